import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANTHROPIC_KEY, OPENAI_KEY, eventually, startHarness, type Harness } from '../helpers/harness.js';

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] },
  },
};

describe('OpenAI SDK → Keel → OpenAI-format provider', () => {
  let h: Harness;
  let client: OpenAI;
  let direct: OpenAI;
  beforeAll(async () => {
    h = await startHarness({ behaviours: { 'gpt-up': { tokens: 8 }, 'embed-up': {} } });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'caller-key-should-not-leak', maxRetries: 0 });
    direct = new OpenAI({ baseURL: `${h.sim.url}/v1`, apiKey: 'x', maxRetries: 0 });
  });
  afterAll(() => h.close());

  const messages = [{ role: 'user' as const, content: 'What is Keel?' }];

  it('answers non-streaming with the upstream body and says who answered in headers', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'gpt-sim', messages, seed: 7 }).withResponse();
    const upstream = await direct.chat.completions.create({ model: 'gpt-up', messages, seed: 7 });
    expect(data.choices[0]?.message.content).toBe(upstream.choices[0]?.message.content);
    expect(data.choices[0]?.message.content?.split(' ')).toHaveLength(8);
    expect(data.model).toBe('gpt-up');
    expect(data.usage?.completion_tokens).toBe(8);
    expect(response.headers.get('x-keel-route')).toBe('gpt-sim');
    expect(response.headers.get('x-keel-provider')).toBe('oai');
    expect(response.headers.get('x-keel-model')).toBe('gpt-up');
    expect(response.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
  });

  it('uses the provider key from config and never forwards the caller credential', async () => {
    h.sim.clearAttempts();
    await client.chat.completions.create({ model: 'gpt-sim', messages });
    const [attempt] = h.sim.attemptsFor('gpt-up');
    expect(attempt?.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(JSON.stringify(attempt?.headers)).not.toContain('caller-key-should-not-leak');
    expect(JSON.stringify(attempt?.headers)).not.toContain(ANTHROPIC_KEY);
  });

  it('passes through seed, stop, n, response_format and unknown fields unchanged', async () => {
    h.sim.clearAttempts();
    await client.chat.completions.create({
      model: 'gpt-sim',
      messages,
      n: 2,
      seed: 42,
      stop: ['END'],
      response_format: { type: 'json_object' },
      logit_bias: { '50256': -100 },
    });
    const body = h.sim.attemptsFor('gpt-up')[0]?.body as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'gpt-up', n: 2, seed: 42, stop: ['END'], response_format: { type: 'json_object' }, logit_bias: { '50256': -100 } });
  });

  it('streams token by token; the concatenation equals the non-streaming answer', async () => {
    const full = await client.chat.completions.create({ model: 'gpt-sim', messages });
    const stream = await client.chat.completions.create({ model: 'gpt-sim', messages, stream: true });
    let text = '';
    let chunks = 0;
    let usageSeen = false;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usageSeen = true;
      if (chunk.choices.length === 0) usageSeen = true;
    }
    expect(text).toBe(full.choices[0]?.message.content);
    expect(chunks).toBeGreaterThanOrEqual(8);
    expect(usageSeen).toBe(false);
  });

  it('asks the upstream for stream usage always and records it, even when the caller did not ask', async () => {
    h.sim.clearAttempts();
    h.records.length = 0;
    const stream = await client.chat.completions.create({ model: 'gpt-sim', messages, stream: true });
    for await (const _ of stream) void _;
    const body = h.sim.attemptsFor('gpt-up')[0]?.body as { stream_options?: { include_usage?: boolean } };
    expect(body.stream_options?.include_usage).toBe(true);
    const rec = await eventually(() => h.records[0]);
    expect(rec.usage?.outputTokens).toBe(8);
    expect(rec.ttftMs).toBeGreaterThan(0);
    expect(rec.interTokenMs).toHaveLength(7);
    expect(rec.finishReason).toBe('stop');
  });

  it('relays the usage chunk when the caller asked for it', async () => {
    const stream = await client.chat.completions.create({ model: 'gpt-sim', messages, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) if (chunk.choices.length === 0) usage = chunk.usage;
    expect(usage?.completion_tokens).toBe(8);
    expect(usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('relays tool calls, non-streaming and streaming', async () => {
    const res = await client.chat.completions.create({ model: 'gpt-sim', messages, tools: [weather], tool_choice: 'auto' });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    const args: unknown = JSON.parse(call?.type === 'function' ? call.function.arguments : '');
    expect(args).toEqual({ city: 'sim', days: 1 });

    const runner = client.chat.completions.stream({ model: 'gpt-sim', messages, tools: [weather] });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0]?.message.tool_calls?.[0];
    expect(streamed?.type === 'function' && JSON.parse(streamed.function.arguments)).toEqual({ city: 'sim', days: 1 });
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('serves embeddings (the SDK asks for base64 by default)', async () => {
    const res = await client.embeddings.create({ model: 'embed', input: ['alpha', 'beta'] });
    expect(res.data).toHaveLength(2);
    expect(res.data[0]?.embedding.length).toBeGreaterThan(0);
    const norm = Math.hypot(...(res.data[0]?.embedding ?? []));
    expect(norm).toBeCloseTo(1, 3);
    const again = await direct.embeddings.create({ model: 'embed-up', input: ['alpha', 'beta'] });
    expect(res.data[1]?.embedding).toEqual(again.data[1]?.embedding);
  });

  it('lists the configured routes as models', async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => m.id).sort()).toEqual(['claude-sim', 'embed', 'gpt-sim']);
  });

  it('returns an unknown model as a 404 NotFoundError naming the configured ones', async () => {
    const err = await client.chat.completions.create({ model: 'nope', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).message).toContain('gpt-sim');
  });
});
