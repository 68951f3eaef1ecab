import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readSse, writeSse } from '../../gateway/sse/read.js';
import { buildRuntime, endpointUrl } from '../../gateway/runtime/resolve.js';
import { parseConfig } from '../helpers/harness.js';

describe('SSE', () => {
  it('parses events split across chunks, in one batch per chunk', async () => {
    const chunks = ['data: {"a":1}\n\nda', 'ta: {"b":2}\n\nevent: ping\ndata: {}\n\n', ': comment\n\n'];
    const batches: unknown[] = [];
    for await (const b of readSse(Readable.from(chunks.map((c) => Buffer.from(c))))) batches.push(b);
    expect(batches).toEqual([[{ data: '{"a":1}' }], [{ data: '{"b":2}' }, { event: 'ping', data: '{}' }]]);
  });

  it('handles a UTF-8 character split across chunks', async () => {
    const bytes = Buffer.from('data: "héllo"\n\n');
    const at = bytes.indexOf(0xc3) + 1;
    const out: unknown[] = [];
    for await (const b of readSse(Readable.from([bytes.subarray(0, at), bytes.subarray(at)]))) out.push(...b);
    expect(out).toEqual([{ data: '"héllo"' }]);
  });

  it('writes events back, multi-line data included', () => {
    expect(writeSse({ data: 'x' })).toBe('data: x\n\n');
    expect(writeSse({ event: 'message_stop', data: '{}' })).toBe('event: message_stop\ndata: {}\n\n');
    expect(writeSse({ data: 'a\nb' })).toBe('data: a\ndata: b\n\n');
  });
});

describe('runtime resolution', () => {
  const config = parseConfig({
    providers: {
      oa: { type: 'openai', api_key: 'k-openai' },
      an: { type: 'anthropic', api_key: 'k-ant', headers: { 'anthropic-beta': 'x' } },
      az: { type: 'openai-compatible', base_url: 'https://n.openai.azure.com/openai/deployments/{model}/', auth: 'api-key', api_key: 'k-az', query: { 'api-version': '2024-10-21' } },
    },
    routes: {
      r: { targets: [{ provider: 'oa', model: 'gpt' }, { provider: 'an', model: 'claude' }, { provider: 'az', model: 'my deploy' }], timeouts: { ttft_ms: 1234 } },
    },
    defaults: { timeouts: { idle_ms: 999 } },
  });
  const rt = buildRuntime(config, 3);
  const route = rt.routes.get('r');

  it('joins default and configured endpoints, with the Azure deployment slot and query', () => {
    const [oa, an, az] = route?.targets ?? [];
    if (!oa || !an || !az) throw new Error('targets missing');
    expect(endpointUrl(oa, oa.provider.adapter.chatPath)).toBe('https://api.openai.com/v1/chat/completions');
    expect(endpointUrl(an, an.provider.adapter.chatPath)).toBe('https://api.anthropic.com/v1/messages');
    expect(endpointUrl(az, az.provider.adapter.chatPath)).toBe('https://n.openai.azure.com/openai/deployments/my%20deploy/chat/completions?api-version=2024-10-21');
  });

  it('builds each provider auth scheme and keeps configured headers', () => {
    const [oa, an, az] = route?.targets ?? [];
    expect(oa?.provider.headers).toMatchObject({ authorization: 'Bearer k-openai' });
    expect(an?.provider.headers).toMatchObject({ 'x-api-key': 'k-ant', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'x' });
    expect(az?.provider.headers).toMatchObject({ 'api-key': 'k-az' });
    expect(az?.provider.headers).not.toHaveProperty('authorization');
  });

  it('layers timeouts: built-in defaults < config defaults < route', () => {
    expect(route?.timeouts).toMatchObject({ ttft_ms: 1234, idle_ms: 999, connect_ms: 5000 });
    expect(rt.clientKeys).toBeUndefined();
    expect(rt.version).toBe(3);
  });
});
