import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The response cache as a stage (issue 16 §1, §3–§5), through the official clients against one
 * gateway with in-process state: an answer bought once is served again, in either format,
 * streaming or not, with the headers and the record saying so; the caller's controls are
 * honoured; unclean answers are never stored; tenants never share; and when every target is
 * down, a stale entry answers.
 */
const KEY_A = 'keel-cache-key-a-0123456789abcdef';
const KEY_B = 'keel-cache-key-b-0123456789abcdef';
const KEY_C = 'keel-cache-key-c-0123456789abcdef';

describe('response cache stage', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: { 'cache-up': { text: 'the answer is forty two, as always', itl_ms: 1 }, 'filter-up': { fault: 'content_policy' }, 'stale-up': { text: 'a stale but useful answer' }, 'embed-broken': { fault: 'server_error' }, 'cut-up': { fault: 'cut', after_tokens: 2, tokens: 20 }, 'pii-up': { text: 'write to jane.doe@example.com today' } },
      config: (url) => {
        const base = baseConfig(url);
        return {
          ...base,
          routes: {
            ...(base.routes as object),
            cached: { targets: [{ provider: 'oai', model: 'cache-up', price: { input: 1, output: 2 } }], cache: { ttl_s: 60 } },
            'cached-claude': { targets: [{ provider: 'ant', model: 'cache-up' }], cache: { ttl_s: 60 } },
            semantic: { targets: [{ provider: 'oai', model: 'cache-up' }], cache: { ttl_s: 60, semantic: { embeddings_route: 'embed', similarity: 0.95, dimensions: 256 } } },
            'semantic-down': { targets: [{ provider: 'oai', model: 'cache-up' }], cache: { ttl_s: 60, semantic: { embeddings_route: 'embed-down' } } },
            'embed-down': { targets: [{ provider: 'oai', model: 'embed-broken' }], retries: { attempts: 0 } },
            broken: { targets: [{ provider: 'oai', model: 'cut-up' }], retries: { attempts: 0 }, continuation: false, cache: { ttl_s: 60 } },
            redacted: { targets: [{ provider: 'oai', model: 'pii-up' }], guardrails: ['pii'], cache: { ttl_s: 60 } },
            stale: { targets: [{ provider: 'oai', model: 'stale-up' }], retries: { attempts: 0 }, cache: { ttl_s: 1, stale_if_error_s: 3600 } },
          },
          guardrails: { pii: { detect: ['email'], direction: 'out', action: 'redact' } },
          auth: { keys: [{ id: 'a', key: KEY_A, team: 't1' }, { id: 'b', key: KEY_B, team: 't1' }, { id: 'c', key: KEY_C, team: 't2' }] },
        };
      },
    });
  });
  afterAll(() => h.close());
  const oai = (key = KEY_A, headers: Record<string, string> = {}) => new OpenAI({ baseURL: `${h.url}/v1`, apiKey: key, maxRetries: 0, defaultHeaders: headers });
  const calls = (model: string) => h.sim.attempts().filter((a) => a.model === model).length;
  const ask = (q: string) => [{ role: 'user' as const, content: q }];

  it('a second identical request is an exact hit: no provider call, the same answer, headers and record say so', async () => {
    const before = calls('cache-up');
    const first = await oai().chat.completions.create({ model: 'cached', messages: ask('what is six times seven?') }).withResponse();
    expect(first.response.headers.get('x-keel-cache')).toBe('miss');
    const second = await oai().chat.completions.create({ model: 'cached', messages: ask('what is six times seven?') }).withResponse();
    expect(calls('cache-up')).toBe(before + 1);
    expect(second.response.headers.get('x-keel-cache')).toBe('exact');
    expect(Number(second.response.headers.get('age'))).toBeGreaterThanOrEqual(0);
    expect(second.data.choices[0]?.message.content).toBe(first.data.choices[0]?.message.content);
    expect(second.data.id).not.toBe(first.data.id);
    const hit = await eventually(() => h.records.find((r) => r.route === 'cached' && r.cache?.status === 'exact'));
    expect(hit.attempts).toHaveLength(0);
    expect(hit.usage).toBeUndefined();
    expect(hit.cache?.savedUsd).toBeGreaterThan(0);
    expect(hit.status).toBe(200);
    expect(hit.errorClass).toBeUndefined();
  });

  it('a hit on a streaming request replays as a stream through the openai stream helper; stream or not shares the entry', async () => {
    const before = calls('cache-up');
    await oai().chat.completions.create({ model: 'cached', messages: ask('name three primes') });
    const stream = oai().chat.completions.stream({ model: 'cached', messages: ask('name three primes'), stream_options: { include_usage: true } });
    let deltas = 0;
    stream.on('content', () => deltas++);
    const done = await stream.finalChatCompletion();
    expect(calls('cache-up')).toBe(before + 1);
    expect(done.choices[0]?.message.content).toBe('the answer is forty two, as always');
    expect(done.choices[0]?.finish_reason).toBe('stop');
    expect(done.usage?.completion_tokens).toBeGreaterThan(0);
    expect(deltas).toBeGreaterThan(1);
    const rec = await eventually(() => h.records.find((r) => r.route === 'cached' && r.stream && r.cache?.status === 'exact'));
    expect(rec.ttftMs).toBeGreaterThan(0);
  });

  it('a streamed answer is stored once complete and a later request of the other format on its route hits it', async () => {
    const ant = new Anthropic({ baseURL: h.url, apiKey: KEY_A, maxRetries: 0 });
    const before = calls('cache-up');
    const first = await ant.messages.stream({ model: 'cached-claude', max_tokens: 64, messages: ask('why is the sky blue?') }).finalMessage();
    const second = await ant.messages.create({ model: 'cached-claude', max_tokens: 64, messages: ask('why is the sky blue?') });
    expect(calls('cache-up')).toBe(before + 1);
    expect(second.content).toEqual(first.content);
    expect(second.stop_reason).toBe('end_turn');
    // A streaming hit through the Anthropic stream helper: text events, the stop reason, usage.
    const stream = ant.messages.stream({ model: 'cached-claude', max_tokens: 64, messages: ask('why is the sky blue?') });
    let texts = 0;
    stream.on('text', () => texts++);
    const replayed = await stream.finalMessage();
    expect(calls('cache-up')).toBe(before + 1);
    expect(replayed.content).toEqual(first.content);
    expect(replayed.stop_reason).toBe('end_turn');
    expect(replayed.usage.output_tokens).toBe(first.usage.output_tokens);
    expect(texts).toBeGreaterThan(1);
  });

  it('tenants never share: another team misses; a key of the same team hits; a sub-namespace is its own', async () => {
    const before = calls('cache-up');
    await oai(KEY_A).chat.completions.create({ model: 'cached', messages: ask('team question') });
    await oai(KEY_C).chat.completions.create({ model: 'cached', messages: ask('team question') });
    expect(calls('cache-up')).toBe(before + 2);
    const same = await oai(KEY_B).chat.completions.create({ model: 'cached', messages: ask('team question') }).withResponse();
    expect(same.response.headers.get('x-keel-cache')).toBe('exact');
    await oai(KEY_B, { 'x-keel-cache-namespace': 'experiment-1' }).chat.completions.create({ model: 'cached', messages: ask('team question') });
    expect(calls('cache-up')).toBe(before + 3);
  });

  it('the caller’s controls: bypass and refresh call the provider, no-store stores nothing, only-if-cached misses with 412', async () => {
    const q = ask('controls question');
    const before = calls('cache-up');
    await oai(KEY_A, { 'cache-control': 'no-store' }).chat.completions.create({ model: 'cached', messages: q });
    const miss = await oai(KEY_A, { 'x-keel-cache': 'only-if-cached' }).chat.completions.create({ model: 'cached', messages: q }).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(OpenAI.APIError);
    expect((miss as InstanceType<typeof OpenAI.APIError>).status).toBe(412);
    expect(calls('cache-up')).toBe(before + 1);
    await oai().chat.completions.create({ model: 'cached', messages: q });
    await oai(KEY_A, { 'x-keel-cache': 'bypass' }).chat.completions.create({ model: 'cached', messages: q });
    await oai(KEY_A, { 'x-keel-cache': 'refresh' }).chat.completions.create({ model: 'cached', messages: q });
    expect(calls('cache-up')).toBe(before + 4);
    const hit = await oai(KEY_A, { 'x-keel-cache': 'only-if-cached' }).chat.completions.create({ model: 'cached', messages: q }).withResponse();
    expect(hit.response.headers.get('x-keel-cache')).toBe('exact');
    const bad = await oai(KEY_A, { 'x-keel-cache': 'sometimes' }).chat.completions.create({ model: 'cached', messages: q }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as Error).message).toMatch(/x-keel-cache/);
    const rec = await eventually(() => h.records.find((r) => r.errorCode === 'KEEL_CACHE_MISS'));
    expect(rec.errorClass).toBe('caller_cache_miss');
    expect(rec.attempts).toHaveLength(0);
  });

  it('semantic: a paraphrase hits with its similarity; an unrelated question, another tool set or another team never does', async () => {
    const before = calls('cache-up');
    await oai().chat.completions.create({ model: 'semantic', messages: ask('What is the capital of France?') });
    const para = await oai().chat.completions.create({ model: 'semantic', messages: ask('what is the capital of france') }).withResponse();
    expect(para.response.headers.get('x-keel-cache')).toMatch(/^semantic;similarity=0\.9[5-9]\d|^semantic;similarity=1\.000/);
    expect(calls('cache-up')).toBe(before + 1);
    const other = await oai().chat.completions.create({ model: 'semantic', messages: ask('how tall is mount everest') }).withResponse();
    expect(other.response.headers.get('x-keel-cache')).toBe('miss');
    const tools = [{ type: 'function' as const, function: { name: 'lookup', parameters: { type: 'object', properties: {} } } }];
    await oai().chat.completions.create({ model: 'semantic', messages: ask('the capital of France, what is it?'), tools, tool_choice: 'none' });
    await oai(KEY_C).chat.completions.create({ model: 'semantic', messages: ask('the capital of France?') });
    expect(calls('cache-up')).toBe(before + 4);
    const rec = await eventually(() => h.records.find((r) => r.route === 'semantic' && r.cache?.status === 'semantic'));
    expect(rec.cache?.similarity).toBeGreaterThanOrEqual(0.95);
    expect(rec.cache?.embeddingMs).toBeGreaterThan(0);
    // The embedding call is a request of its own, on the embeddings route, with its own record.
    expect(h.records.some((r) => r.route === 'embed' && r.operation === 'embeddings' && r.clientId === 'a')).toBe(true);
  });

  it('the embeddings route failing: the request goes on uncached (and the exact tier still works)', async () => {
    const before = calls('cache-up');
    const r = await oai().chat.completions.create({ model: 'semantic-down', messages: ask('anything at all') }).withResponse();
    expect(r.response.status).toBe(200);
    const again = await oai().chat.completions.create({ model: 'semantic-down', messages: ask('anything at all') }).withResponse();
    expect(again.response.headers.get('x-keel-cache')).toBe('exact');
    expect(calls('cache-up')).toBe(before + 1);
  });

  it('never stored: a stream cut mid-answer, an answer a guardrail redacted', async () => {
    for (let i = 0; i < 2; i++) {
      const stream = await oai().chat.completions.create({ model: 'broken', messages: ask('a long story'), stream: true });
      const err = await (async () => {
        for await (const chunk of stream) void chunk;
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
    }
    expect(calls('cut-up')).toBe(2);
    for (let i = 0; i < 2; i++) {
      const r = await oai().chat.completions.create({ model: 'redacted', messages: ask('who do I write to?') });
      expect(r.choices[0]?.message.content).not.toContain('jane.doe@example.com');
    }
    expect(calls('pii-up')).toBe(2);
  });

  it('every target down after the ttl: the stale entry answers, marked stale, counted as a rescue; without an entry the failure stands', async () => {
    await oai().chat.completions.create({ model: 'stale', messages: ask('known question') });
    await new Promise((r) => setTimeout(r, 1100));
    h.sim.setBehaviour('stale-up', { fault: 'server_error' });
    for (let i = 0; i < 3; i++) {
      const r = await oai().chat.completions.create({ model: 'stale', messages: ask('known question') }).withResponse();
      expect(r.response.headers.get('x-keel-cache')).toBe('stale');
      expect(r.data.choices[0]?.message.content).toBe('a stale but useful answer');
    }
    const unknown = await oai().chat.completions.create({ model: 'stale', messages: ask('never asked before') }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.APIError);
    const rec = await eventually(() => h.records.find((r) => r.route === 'stale' && r.cache?.status === 'stale'));
    expect(rec.status).toBe(200);
    expect(rec.fallbacks).toBeGreaterThan(0);
    expect(rec.provider).toBeUndefined();
    expect(rec.attempts.every((a) => !a.ok)).toBe(true);
  });
});
