import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventMeter, EventTooLarge, readSse, writeSse } from '../../gateway/sse/read.js';
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

  const read = async (chunks: string[], limit: number) => {
    const out: unknown[] = [];
    for await (const b of readSse(Readable.from(chunks.map((c) => Buffer.from(c))), limit)) out.push(...b);
    return out;
  };

  it('refuses an event that grows past max_event_bytes across chunks, before the parser holds it', async () => {
    const big = ['data: {"pad":"', ...Array.from({ length: 20 }, () => 'x'.repeat(100)), '"}\n\n'];
    await expect(read(big, 1000)).rejects.toBeInstanceOf(EventTooLarge);
    expect(await read(big, 4000)).toHaveLength(1);
    // A line that never ends is the same: no boundary, ever.
    await expect(read(Array.from({ length: 20 }, () => 'y'.repeat(100)), 1000)).rejects.toBeInstanceOf(EventTooLarge);
  });

  it('counts from the last boundary: many small events, a boundary split across chunks, CRLF, comments', async () => {
    const ev = 'data: ' + 'a'.repeat(90) + '\n';
    // 200 events of ~100 bytes, every boundary split between two chunks: 20 kB of stream under a 500-byte limit.
    const split = Array.from({ length: 200 }, () => [ev, '\n']).flat();
    expect(await read(split, 500)).toHaveLength(200);
    const crlf = Array.from({ length: 50 }, () => ['data: ' + 'b'.repeat(90) + '\r\n\r', '\n']).flat();
    expect(await read(crlf, 500)).toHaveLength(50);
    const pings = Array.from({ length: 100 }, () => ': keep-alive\n\n').join('');
    expect(await read([pings, 'data: 1\n\n'], 500)).toEqual([{ data: '1' }]);
  });

  it('a chunk larger than the limit is fine when its events are not; one event in it that is, is refused', () => {
    const small = Array.from({ length: 50 }, (_, i) => `data: ${i}\n\n`).join('');
    expect(new EventMeter(100).add(small, Buffer.byteLength(small))).toBe(true);
    const oneBig = `data: 1\n\ndata: ${'z'.repeat(200)}\n\ndata: 2\n\n`;
    expect(new EventMeter(100).add(oneBig, Buffer.byteLength(oneBig))).toBe(false);
    // Multi-byte text is counted in bytes, not characters.
    const wide = `data: ${'é'.repeat(60)}`;
    const m = new EventMeter(100);
    expect(m.add(wide, Buffer.byteLength(wide))).toBe(false);
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
