import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BehaviourSpec } from '../../simulator/index.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

const within = (ms: number): number => ms * 3;

/**
 * Non-streaming requests streamed upstream and assembled by Keel (issue 17 §5): the caller still
 * gets one JSON body shaped as the provider's own, while ttft_ms and idle_ms judge the provider.
 * And context windows: unknown ones are tried after a context-length failure, known smaller ones
 * skipped, the built-in catalogue and `context_windows:` making the choice informed.
 */
const behaviours: Record<string, BehaviourSpec> = {
  slow: { ttft_ms: 2500, latency_ms: 2500 },
  'gpt-4o': { fault: 'context_length' },
  'ctx-first': { fault: 'context_length' },
};
const timers = { connect_ms: 500, headers_ms: 3000, ttft_ms: 300, idle_ms: 300, total_ms: 8000 };
/** Opted in per route (off by default: every streamed chunk costs CPU a JSON body does not). */
const on = { assemble_streams: true };
const oai = (model: string, extra: Record<string, unknown> = {}) => ({ provider: 'oai', model, ...extra });
const ant = (model: string) => ({ provider: 'ant', model });
const weather = { type: 'function' as const, function: { name: 'weather', description: 'the weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

describe('non-streaming answers assembled from upstream streams', () => {
  let h: Harness;
  let client: OpenAI;
  let anthropic: Anthropic;
  beforeAll(async () => {
    h = await startHarness({
      behaviours,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' }, ant: { type: 'anthropic', base_url: url, api_key: 'k' } },
        context_windows: { 'small-known': 4096 },
        routes: {
          assembled: { targets: [oai('plain')], timeouts: timers, ...on },
          whole: { targets: [oai('plain')], timeouts: timers },
          'ant-assembled': { targets: [ant('plain-ant')], timeouts: timers, ...on },
          'ant-whole': { targets: [ant('plain-ant')], timeouts: timers },
          'slow-assembled': { targets: [oai('slow')], fallbacks: [oai('fb-a')], timeouts: timers, ...on },
          'slow-whole': { targets: [oai('slow')], fallbacks: [oai('fb-w')], timeouts: timers },
          // gpt-4o's window (128k) is in the catalogue: gpt-4o-mini (also 128k) cannot fit what it could not; an unknown model may.
          ctx: { targets: [oai('gpt-4o')], fallbacks: [oai('gpt-4o-mini'), oai('small-known'), oai('mystery')], timeouts: timers },
          'ctx-unknown': { targets: [oai('ctx-first')], fallbacks: [oai('small-known'), oai('fb-unknown')], timeouts: timers },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
    h.sim.clearAttempts();
  });

  const messages = [{ role: 'user' as const, content: 'what is assembled here?' }];
  const raw = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k', ...headers }, body: JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown>;
  };
  /** The JSON's shape: every key path, with the type of its value (ids and times differ, shapes may not). */
  const shape = (v: unknown, at = ''): string[] =>
    v !== null && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [`${at}.${k}:${Array.isArray(x) ? 'array' : x === null ? 'null' : typeof x}`, ...shape(x, `${at}.${k}`)]) : [];

  it('an OpenAI caller gets the body the provider itself sends, and the upstream request was a stream', async () => {
    const assembled = await raw('/v1/chat/completions', { model: 'assembled', messages });
    const whole = await raw('/v1/chat/completions', { model: 'whole', messages });
    expect(shape(assembled).sort()).toEqual(shape(whole).sort());
    expect(assembled.choices).toEqual(whole.choices);
    expect(assembled.usage).toEqual(whole.usage);
    expect(h.sim.attempts().map((a) => a.stream)).toEqual([true, false]);
  });

  it('an Anthropic caller too', async () => {
    const assembled = await raw('/v1/messages', { model: 'ant-assembled', max_tokens: 64, messages }, { 'anthropic-version': '2023-06-01' });
    const whole = await raw('/v1/messages', { model: 'ant-whole', max_tokens: 64, messages }, { 'anthropic-version': '2023-06-01' });
    expect(shape(assembled).sort()).toEqual(shape(whole).sort());
    expect(assembled.content).toEqual(whole.content);
    expect(assembled.usage).toEqual(whole.usage);
    expect(h.sim.attempts().map((a) => a.stream)).toEqual([true, false]);
    const viaSdk = await anthropic.messages.create({ model: 'ant-assembled', max_tokens: 64, messages });
    expect(viaSdk.content[0]).toEqual(whole.content instanceof Array ? whole.content[0] : undefined);
  });

  it('tool calls are assembled with their arguments whole', async () => {
    const res = await client.chat.completions.create({ model: 'assembled', messages, tools: [weather], tool_choice: 'required' });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' ? call.function.name : undefined).toBe('weather');
    expect(() => JSON.parse(call?.type === 'function' ? call.function.arguments : '') as unknown).not.toThrow();
  });

  it('a request for log probabilities (only in the JSON body) is not streamed upstream', async () => {
    await client.chat.completions.create({ model: 'assembled', messages, logprobs: true });
    expect(h.sim.attempts().map((a) => a.stream)).toEqual([false]);
  });

  it('a provider slow to start fails over after ttft_ms, where a whole body waits for its headers', async () => {
    let started = Date.now();
    const a = await client.chat.completions.create({ model: 'slow-assembled', messages });
    const assembledMs = Date.now() - started;
    expect(a.model).toBe('fb-a');
    expect(assembledMs).toBeLessThan(within(300 + 200));
    started = Date.now();
    const w = await client.chat.completions.create({ model: 'slow-whole', messages });
    const wholeMs = Date.now() - started;
    // Without assembly the same provider is waited on until it answers (2.5 s, inside headers_ms 3 s).
    expect(w.model).toBe('slow');
    expect(wholeMs).toBeGreaterThan(2400);
  });

  it('context length: a known window no larger is skipped, an unknown one is tried', async () => {
    const res = await client.chat.completions.create({ model: 'ctx', messages });
    expect(res.model).toBe('mystery');
    const rec = await eventually(() => h.records.find((r) => r.route === 'ctx'));
    expect(rec.attempts.map((a) => a.model)).toEqual(['gpt-4o', 'mystery']);
  });

  it('context length on a target of unknown window: every fallback may fit and is tried in order', async () => {
    const res = await client.chat.completions.create({ model: 'ctx-unknown', messages });
    expect(res.model).toBe('small-known');
    expect(h.sim.attemptsFor('fb-unknown')).toHaveLength(0);
  });
});
