import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANTHROPIC_KEY, eventually, startHarness, type Harness } from '../helpers/harness.js';

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('Anthropic SDK → Keel → Anthropic-format provider', () => {
  let h: Harness;
  let client: Anthropic;
  let direct: Anthropic;
  beforeAll(async () => {
    h = await startHarness({ behaviours: { 'claude-up': { tokens: 6 } } });
    client = new Anthropic({ baseURL: h.url, apiKey: 'caller-anthropic-key', maxRetries: 0 });
    direct = new Anthropic({ baseURL: h.sim.url, apiKey: 'x', maxRetries: 0 });
  });
  afterAll(() => h.close());

  const messages = [{ role: 'user' as const, content: 'Hello Keel' }];

  it('answers non-streaming with the upstream message', async () => {
    const { data, response } = await client.messages.create({ model: 'claude-sim', max_tokens: 100, messages }).withResponse();
    const upstream = await direct.messages.create({ model: 'claude-up', max_tokens: 100, messages });
    expect(data.content).toEqual(upstream.content);
    expect(data.model).toBe('claude-up');
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.output_tokens).toBe(6);
    expect(response.headers.get('x-keel-provider')).toBe('ant');
  });

  it('sends the provider key as x-api-key with a pinned anthropic-version, not the caller key', async () => {
    h.sim.clearAttempts();
    await client.messages.create({ model: 'claude-sim', max_tokens: 50, messages });
    const headers = h.sim.attemptsFor('claude-up')[0]?.headers ?? {};
    expect(headers['x-api-key']).toBe(ANTHROPIC_KEY);
    expect(headers['anthropic-version']).toBe('2023-06-01');
    expect(JSON.stringify(headers)).not.toContain('caller-anthropic-key');
  });

  it('accepts a Bearer credential (newer SDKs) as well as x-api-key', async () => {
    const bearer = new Anthropic({ baseURL: h.url, authToken: 'caller-token', apiKey: null, maxRetries: 0 });
    const res = await bearer.messages.create({ model: 'claude-sim', max_tokens: 50, messages });
    expect(res.content[0]?.type).toBe('text');
  });

  it('streams; the final message equals the non-streaming one', async () => {
    const full = await client.messages.create({ model: 'claude-sim', max_tokens: 100, messages });
    h.records.length = 0;
    const stream = client.messages.stream({ model: 'claude-sim', max_tokens: 100, messages });
    const deltas: string[] = [];
    stream.on('text', (t) => deltas.push(t));
    const final = await stream.finalMessage();
    expect(final.content).toEqual(full.content);
    expect(deltas.length).toBe(6);
    expect(final.usage.output_tokens).toBe(6);
    const rec = await eventually(() => h.records[0]);
    expect(rec.usage?.outputTokens).toBe(6);
    expect(rec.interTokenMs).toHaveLength(5);
  });

  it('relays tool use, non-streaming and streaming', async () => {
    const res = await client.messages.create({ model: 'claude-sim', max_tokens: 100, messages, tools: [weatherTool] });
    const block = res.content.find((b) => b.type === 'tool_use');
    expect(res.stop_reason).toBe('tool_use');
    expect(block?.type === 'tool_use' && block.input).toEqual({ city: 'sim' });
    const final = await client.messages.stream({ model: 'claude-sim', max_tokens: 100, messages, tools: [weatherTool] }).finalMessage();
    const streamed = final.content.find((b) => b.type === 'tool_use');
    expect(streamed?.type === 'tool_use' && streamed.input).toEqual({ city: 'sim' });
  });

  it('lists routes in the Anthropic models shape', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id)).toContain('claude-sim');
  });

  it('returns an unknown model as an Anthropic not_found_error', async () => {
    const err = await client.messages.create({ model: 'nope', max_tokens: 10, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    const body = (err as InstanceType<typeof Anthropic.NotFoundError>).error as { type: string; error: { type: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('not_found_error');
  });
});
