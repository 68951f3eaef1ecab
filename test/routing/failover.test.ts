import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptRecord, BehaviourSpec } from '../../simulator/index.js';
import { textTokens } from '../../simulator/answer.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/** Upper time bounds allow for a loaded 2-core CI machine (timers fire late, never early); lower bounds are exact. */
const within = (ms: number): number => ms * 3;

/**
 * Every failure class of issue 3, driven by the official OpenAI client through Keel
 * to the simulator. Each case checks what the client got, what the simulator saw
 * (per upstream model, with arrival times) and how long it took.
 */
const TOKENS = 12;
const behaviours: Record<string, BehaviourSpec> = {
  'rl-after': { fault: 'rate_limit', retry_after_s: 1, times: 1 },
  'rl-long': { fault: 'rate_limit', retry_after_s: 60 },
  'rl-always': { fault: 'rate_limit' },
  'err-once': { fault: 'server_error', times: 1 },
  down503: { fault: 'overloaded' },
  reset: { fault: 'reset' },
  hang: { fault: 'hang' },
  'slow-ttft': { ttft_ms: 3000 },
  'ctx-small': { fault: 'context_length' },
  'ctx-small-2': { fault: 'context_length' },
  'ctx-only': { fault: 'context_length' },
  policy: { fault: 'content_policy' },
  malformed: { fault: 'malformed', after_tokens: 4 },
  'no-done': { fault: 'no_done' },
  'slow-stream': { tokens: 60, itl_ms: 50 },
};

const fast = {
  timeouts: { connect_ms: 500, headers_ms: 300, ttft_ms: 300, idle_ms: 300, total_ms: 5000 },
  retries: { attempts: 2, backoff_ms: 100, max_backoff_ms: 400, max_retry_after_ms: 2000 },
};
const oai = (model: string, extra: Record<string, unknown> = {}) => ({ provider: 'oai', model, ...extra });
const route = (primary: string, fallbacks: Record<string, unknown>[] = [], extra: Record<string, unknown> = {}) => ({
  targets: [oai(primary)],
  fallbacks,
  ...fast,
  ...extra,
});

describe('resilient routing: one case per failure class', () => {
  let h: Harness;
  let client: OpenAI;
  beforeAll(async () => {
    h = await startHarness({
      behaviours,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: {
          'r-429-after': route('rl-after'),
          'r-429-long': route('rl-long', [oai('fb-429-long')]),
          'r-429': route('rl-always', [oai('fb-429')]),
          'r-500-once': route('err-once', [oai('fb-500')]),
          'r-503': route('down503', [oai('fb-503')]),
          'r-reset': route('reset', [oai('fb-reset')]),
          'r-hang': route('hang', [oai('fb-hang')]),
          'r-ttft': route('slow-ttft', [oai('fb-ttft')]),
          'r-ctx': { ...route('ctx-small', [oai('ctx-small-2', { context_window: 8192 }), oai('ctx-big', { context_window: 128000 })]), targets: [oai('ctx-small', { context_window: 8192 })] },
          'r-ctx-none': { ...route('ctx-only', [oai('ctx-peer', { context_window: 8192 })]), targets: [oai('ctx-only', { context_window: 8192 })] },
          'r-policy': route('policy', [oai('fb-policy')]),
          'r-malformed': route('malformed', [oai('fb-malformed')]),
          'r-no-done': route('no-done', [oai('fb-no-done')]),
          'r-disconnect': route('slow-stream', [oai('fb-disconnect')]),
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
  });

  const messages = [{ role: 'user' as const, content: 'tell me about failover' }];
  const fullAnswer = textTokens('tell me about failover', TOKENS, undefined).join('');
  const seen = (model: string): readonly AttemptRecord[] => h.sim.attemptsFor(model);
  const gaps = (model: string) => seen(model).slice(1).map((a, i) => a.at - (seen(model)[i]?.at ?? 0));

  async function ask(model: string) {
    const started = Date.now();
    const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
    return { data, headers: response.headers, ms: Date.now() - started };
  }

  async function stream(model: string) {
    const started = Date.now();
    let text = '';
    let served: string | undefined;
    let finish: string | null | undefined;
    const res = await client.chat.completions.create({ model, messages, stream: true });
    for await (const chunk of res) {
      text += chunk.choices[0]?.delta.content ?? '';
      served ??= chunk.model;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    return { text, served, finish, ms: Date.now() - started };
  }

  async function failure(p: Promise<unknown>) {
    const started = Date.now();
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    return { err: err as InstanceType<typeof OpenAI.APIError>, ms: Date.now() - started };
  }

  it('429 with Retry-After: retried on the same target after the header delay', async () => {
    const { data, headers, ms } = await ask('r-429-after');
    expect(data.choices[0]?.message.content).toBe(fullAnswer);
    expect(seen('rl-after')).toHaveLength(2);
    expect(gaps('rl-after')[0]).toBeGreaterThanOrEqual(990);
    expect(gaps('rl-after')[0]).toBeLessThan(within(1400));
    expect(ms).toBeLessThan(within(2000));
    expect(headers.get('x-keel-attempts')).toBe('2');
    expect(headers.get('x-keel-retries')).toBe('1');
  });

  it('429 whose Retry-After exceeds the cap: no wait, straight to the fallback', async () => {
    const { data, ms } = await ask('r-429-long');
    expect(data.model).toBe('fb-429-long');
    expect(seen('rl-long')).toHaveLength(1);
    expect(seen('fb-429-long')).toHaveLength(1);
    expect(ms).toBeLessThan(within(500));
  });

  it('persistent 429 without Retry-After: backs off a bounded number of times, then falls back', async () => {
    const { data, headers, ms } = await ask('r-429');
    expect(data.model).toBe('fb-429');
    expect(data.choices[0]?.message.content).toBe(fullAnswer);
    expect(seen('rl-always')).toHaveLength(3);
    // Equal-jitter backoff: 50–100 ms, then 100–200 ms; never an immediate hammer.
    const [g1 = 0, g2 = 0] = gaps('rl-always');
    expect(g1).toBeGreaterThanOrEqual(45);
    expect(g1).toBeLessThan(within(200));
    expect(g2).toBeGreaterThanOrEqual(95);
    expect(g2).toBeLessThan(within(300));
    expect(seen('fb-429')[0]?.at).toBeGreaterThanOrEqual(seen('rl-always')[2]?.at ?? Infinity);
    expect(ms).toBeLessThan(within(1000));
    expect(headers.get('x-keel-attempts')).toBe('4');
    expect(headers.get('x-keel-fallbacks')).toBe('1');
    const rec = await eventually(() => h.records[0]);
    expect(rec.attempts.map((a) => `${a.model}:${a.reason}:${a.errorClass ?? 'ok'}`)).toEqual([
      'rl-always:primary:provider_rate_limit',
      'rl-always:retry:provider_rate_limit',
      'rl-always:retry:provider_rate_limit',
      'fb-429:fallback:ok',
    ]);
    expect(rec.responseModel).toBe('fb-429');
  });

  it('500 once, then healthy: retried on the same target, the fallback is not touched', async () => {
    const { data, ms } = await ask('r-500-once');
    expect(data.model).toBe('err-once');
    expect(seen('err-once')).toHaveLength(2);
    expect(gaps('err-once')[0]).toBeLessThan(within(200));
    expect(seen('fb-500')).toHaveLength(0);
    expect(ms).toBeLessThan(within(1000));
  });

  it('persistent 503: falls back within the retry budget', async () => {
    const { data, ms } = await ask('r-503');
    expect(data.model).toBe('fb-503');
    expect(seen('down503')).toHaveLength(3);
    expect(seen('fb-503')).toHaveLength(1);
    expect(ms).toBeLessThan(within(1000));
  });

  it('connection reset before headers: retried, then the fallback answers', async () => {
    const { data, ms } = await ask('r-reset');
    expect(data.model).toBe('fb-reset');
    expect(seen('reset').map((a) => a.outcome)).toEqual(['reset', 'reset', 'reset']);
    expect(seen('fb-reset')).toHaveLength(1);
    expect(ms).toBeLessThan(within(1000));
  });

  it('no response at all: falls back after the first timeout, well inside the total budget', async () => {
    const { data, ms } = await ask('r-hang');
    expect(data.model).toBe('fb-hang');
    expect(seen('hang')).toHaveLength(1);
    const wait = (seen('fb-hang')[0]?.at ?? 0) - (seen('hang')[0]?.at ?? 0);
    expect(wait).toBeGreaterThanOrEqual(290);
    expect(wait).toBeLessThan(within(800));
    expect(ms).toBeLessThan(within(1000));
    expect(await eventually(() => seen('hang')[0]?.endedAt)).toBeDefined();
  });

  it('slow first token: the TTFT timeout fails over before the caller sees a byte', async () => {
    const { text, served, finish, ms } = await stream('r-ttft');
    expect(text).toBe(fullAnswer);
    expect(served).toBe('fb-ttft');
    expect(finish).toBe('stop');
    expect(seen('slow-ttft')).toHaveLength(1);
    expect(await eventually(() => seen('slow-ttft')[0]?.endedAt && seen('slow-ttft')[0]?.outcome)).toBe('client_aborted');
    expect(ms).toBeLessThan(within(1000));
  });

  it('malformed chunk: skipped, the stream completes on the same target', async () => {
    const { text, finish, ms } = await stream('r-malformed');
    expect(text).toBe(fullAnswer);
    expect(finish).toBe('stop');
    expect(seen('malformed')).toHaveLength(1);
    expect(seen('fb-malformed')).toHaveLength(0);
    expect((await eventually(() => h.records[0])).malformedChunks).toBe(1);
    expect(ms).toBeLessThan(within(1000));
  });

  it('missing [DONE]: the complete answer is finalised within a second of the upstream end', async () => {
    const { text, finish, ms } = await stream('r-no-done');
    expect(text).toBe(fullAnswer);
    expect(finish).toBe('stop');
    const upstreamEnd = await eventually(() => seen('no-done')[0]?.endedAt);
    expect(Date.now() - upstreamEnd).toBeLessThan(1000);
    expect(seen('fb-no-done')).toHaveLength(0);
    expect((await eventually(() => h.records[0])).endSynthesized).toBe(true);
    expect(ms).toBeLessThan(within(1500));
  });

  it('context length exceeded: no same-model retry, the larger-context fallback answers', async () => {
    const { data, headers } = await ask('r-ctx');
    expect(data.model).toBe('ctx-big');
    expect(seen('ctx-small')).toHaveLength(1);
    expect(seen('ctx-small-2')).toHaveLength(0);
    expect(seen('ctx-big')).toHaveLength(1);
    expect(headers.get('x-keel-fallbacks')).toBe('1');
  });

  it('context length exceeded with no larger target: a clean 400 with the provider reason', async () => {
    const { err } = await failure(client.chat.completions.create({ model: 'r-ctx-none', messages }));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/maximum context length/);
    expect(seen('ctx-only')).toHaveLength(1);
    expect(seen('ctx-peer')).toHaveLength(0);
  });

  it('content policy: returned at once with the provider reason, never retried', async () => {
    const { err, ms } = await failure(client.chat.completions.create({ model: 'r-policy', messages }));
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/safety system/);
    expect(seen('policy')).toHaveLength(1);
    expect(seen('fb-policy')).toHaveLength(0);
    expect(ms).toBeLessThan(within(500));
  });

  it('client disconnect: the upstream attempt is aborted and nothing else is tried', async () => {
    const controller = new AbortController();
    const res = await client.chat.completions.create({ model: 'r-disconnect', messages, stream: true }, { signal: controller.signal });
    let chunks = 0;
    let abortedAt = 0;
    try {
      for await (const _ of res) {
        if (++chunks === 3) {
          abortedAt = Date.now();
          controller.abort();
        }
      }
    } catch {
      // the abort surfaces here
    }
    const attempt = await eventually(() => seen('slow-stream').find((a) => a.endedAt !== undefined));
    expect(attempt.outcome).toBe('client_aborted');
    expect((attempt.endedAt ?? 0) - abortedAt).toBeLessThan(within(300));
    expect(attempt.tokensSent ?? 0).toBeLessThan(20);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen('fb-disconnect')).toHaveLength(0);
    expect((await eventually(() => h.records[0])).status).toBe(499);
  });
});
