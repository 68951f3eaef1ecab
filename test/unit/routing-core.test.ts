import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { formats } from '../../gateway/formats/index.js';
import { upstreamStatusError } from '../../gateway/upstream/status.js';
import { retryDelay } from '../../gateway/routing/backoff.js';
import { CircuitBreaker } from '../../gateway/routing/breaker.js';
import { classify, countsAgainstTarget, decide } from '../../gateway/routing/classify.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { HedgeGate, hedgeDelay, p95 } from '../../gateway/routing/hedge.js';
import { planTargets } from '../../gateway/routing/plan.js';
import { NO_WEIGHTS, weightKey, WeightsStore } from '../../gateway/routing/weights.js';
import { DEFAULT_RETRIES, buildRuntime, type ResolvedRoute } from '../../gateway/runtime/resolve.js';
import { newAnswer, observeAnswer, prefillOf } from '../../gateway/pipeline/session.js';
import { continueAfter, textTokens } from '../../simulator/answer.js';
import { parseConfig } from '../helpers/harness.js';

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('CircuitBreaker', () => {
  it('opens on consecutive failures, admits one probe after open_s, closes on its success', () => {
    const c = clock();
    const b = new CircuitBreaker({ consecutive_failures: 3, open_s: 5 }, c.now);
    for (let i = 0; i < 2; i++) b.record(false);
    expect(b.state).toBe('closed');
    b.record(false);
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    c.advance(4_999);
    expect(b.allow()).toBe(false);
    c.advance(1);
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false); // one probe at a time
    b.record(true);
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('a failed probe re-opens for another open_s; an abandoned probe frees the slot', () => {
    const c = clock();
    const b = new CircuitBreaker({ consecutive_failures: 1, open_s: 2 }, c.now);
    b.record(false);
    c.advance(2_000);
    expect(b.allow()).toBe(true);
    b.record(false);
    expect(b.allow()).toBe(false);
    c.advance(2_000);
    expect(b.allow()).toBe(true);
    b.release();
    expect(b.allow()).toBe(true);
  });

  it('opens on the error ratio only with enough requests in the window, and forgets old buckets', () => {
    const c = clock();
    const b = new CircuitBreaker({ error_ratio: 0.5, min_requests: 6, window_s: 10, consecutive_failures: 100 }, c.now);
    for (let i = 0; i < 2; i++) {
      b.record(true);
      b.record(false);
    }
    expect(b.state).toBe('closed'); // 2/4 bad, below min_requests
    c.advance(11_000); // the window slid past those
    for (let i = 0; i < 3; i++) b.record(true);
    for (let i = 0; i < 2; i++) b.record(false);
    expect(b.state).toBe('closed'); // 2/5 in window
    b.record(false);
    expect(b.state).toBe('open'); // 3/6
  });
});

describe('retryDelay', () => {
  const retries = { ...DEFAULT_RETRIES, backoff_ms: 100, max_backoff_ms: 1_000, max_retry_after_ms: 5_000 };
  it('honours Retry-After up to the cap, and gives up on the target beyond it', () => {
    expect(retryDelay(0, retries, 2_000)).toBe(2_000);
    expect(retryDelay(0, retries, 6_000)).toBeUndefined();
  });
  it('backs off exponentially with equal jitter, capped', () => {
    expect(retryDelay(0, retries, undefined, () => 0)).toBe(50);
    expect(retryDelay(0, retries, undefined, () => 1)).toBe(100);
    expect(retryDelay(2, retries, undefined, () => 0)).toBe(200);
    expect(retryDelay(10, retries, undefined, () => 1)).toBe(1_000);
  });
});

describe('failure classes', () => {
  const err = (code: ConstructorParameters<typeof KeelError>[0], message = 'x', upstreamCode?: string) => new KeelError(code, message, { upstreamCode });
  const status = (code: number, error: Record<string, unknown>) => upstreamStatusError(code, JSON.stringify({ error }), formats['openai-chat'], 'p');
  it.each([
    [status(400, { message: 'bad', code: 'context_length_exceeded' }), 'caller_context_length', 'larger_context'],
    [status(400, { message: 'prompt is too long: 210000 tokens > 200000 maximum' }), 'caller_context_length', 'larger_context'],
    [status(400, { message: 'rejected by our safety system' }), 'caller_content_policy', 'stop'],
    [status(400, { message: 'messages: field required' }), 'caller_rejected', 'stop'],
    [status(404, { message: 'no such model' }), 'provider_rejected', 'fall_back'],
    [status(429, { message: 'slow down' }), 'provider_rate_limit', 'retry_same'],
    [status(429, { message: 'quota', code: 'insufficient_quota' }), 'provider_quota', 'fall_back'],
    [status(401, { message: 'who' }), 'provider_credential', 'fall_back'],
    [status(503, { message: 'busy' }), 'provider_unavailable', 'retry_same'],
    [err('KEEL_UPSTREAM_TIMEOUT'), 'provider_timeout', 'fall_back'],
    [err('KEEL_UPSTREAM_ERROR'), 'provider_error', 'retry_same'],
    [err('KEEL_STREAM_BROKEN'), 'provider_stream_broken', 'retry_same'],
    [err('KEEL_UPSTREAM_BAD_RESPONSE'), 'provider_malformed', 'fall_back'],
    [err('KEEL_CLIENT_CLOSED'), 'caller_disconnected', 'stop'],
    [err('KEEL_CLIENT_STALLED'), 'caller_stalled', 'stop'],
    [err('KEEL_ENCODE_FAILED'), 'gateway_encode', 'stop'],
    [err('KEEL_ATTEMPT_CANCELLED'), 'gateway_cancelled', 'stop'],
  ] as const)('%s → %s → %s', (e, cls, decision) => {
    expect(classify(e)).toBe(cls);
    expect(decide(classify(e))).toBe(decision);
  });
  it('only provider-attributable classes count against a target', () => {
    expect(countsAgainstTarget('provider_error')).toBe(true);
    expect(countsAgainstTarget('provider_rate_limit')).toBe(true);
    expect(countsAgainstTarget('caller_rejected')).toBe(false);
    expect(countsAgainstTarget('caller_content_policy')).toBe(false);
    expect(countsAgainstTarget('caller_stalled')).toBe(false);
    expect(countsAgainstTarget('gateway_encode')).toBe(false);
    expect(countsAgainstTarget('gateway_cancelled')).toBe(false);
  });
});

describe('planTargets', () => {
  const target = (model: string, extra: Record<string, unknown> = {}) => ({ provider: 'p', model, ...extra });
  function routeOf(r: Record<string, unknown>): ResolvedRoute {
    const cfg = parseConfig({ providers: { p: { type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1' } }, routes: { r } });
    const route = buildRuntime(cfg, 1).routes.get('r');
    if (route === undefined) throw new Error('no route');
    return route;
  }
  const ctx = (random: () => number = () => 0.5) => ({ health: new HealthRegistry(), weights: NO_WEIGHTS, random });
  const models = (r: ResolvedRoute, c = ctx()) => planTargets(r, c).map((t) => t.model);

  it('priority: ascending priority, then the fallbacks as listed', () => {
    const r = routeOf({ strategy: 'priority', targets: [target('b', { priority: 2 }), target('a', { priority: 1 })], fallbacks: [target('z'), target('y')] });
    expect(models(r)).toEqual(['a', 'b', 'z', 'y']);
  });

  it('cost: cheapest first; unpriced last', () => {
    const r = routeOf({ strategy: 'cost', targets: [target('free'), target('dear', { price: { input: 10, output: 30 } }), target('cheap', { price: { input: 0.1, output: 0.4 } })] });
    expect(models(r)).toEqual(['cheap', 'dear', 'free']);
  });

  it('latency: lowest EWMA first, unknown targets tried first, with some exploration', () => {
    const r = routeOf({ strategy: 'latency', targets: [target('slow'), target('fast'), target('new')] });
    const c = ctx(() => 0.5);
    const [slow, fast] = r.targets;
    if (slow === undefined || fast === undefined) throw new Error('targets');
    c.health.observeLatency(slow, 900);
    c.health.observeLatency(fast, 100);
    expect(models(r, c)).toEqual(['new', 'fast', 'slow']);
    // A draw under the exploration share puts another target first.
    const draws = [0.01, 0.99];
    let i = 0;
    const explore = { ...c, random: () => draws[i++] ?? 0.5 };
    expect(planTargets(r, explore).map((t) => t.model)).toEqual(['slow', 'new', 'fast']);
  });

  it('weighted: the weights snapshot multiplies the static weights of adaptive routes only', () => {
    const r = routeOf({ adaptive: true, targets: [target('a', { weight: 1 }), target('b', { weight: 1 })] });
    const fixed = routeOf({ targets: [target('a', { weight: 1 }), target('b', { weight: 1 })] });
    const store = new WeightsStore();
    store.swap({ version: 'v7', multipliers: new Map([[weightKey('r', 'p', 'a'), 0]]), canaries: new Map() });
    for (const draw of [0, 0.3, 0.6, 0.99]) expect(planTargets(r, { ...ctx(() => draw), weights: store.current })[0]?.model).toBe('b');
    expect(planTargets(fixed, { ...ctx(() => 0), weights: store.current })[0]?.model).toBe('a');
    expect(store.current.version).toBe('v7');
    expect(Object.isFrozen(store.current)).toBe(true);
  });
});

describe('hedge budget', () => {
  it('allows max_share of the last minute’s requests, plus one', () => {
    const c = clock();
    const gate = new HedgeGate(c.now);
    for (let i = 0; i < 10; i++) gate.request();
    expect(gate.tryHedge(0.2)).toBe(true);
    expect(gate.tryHedge(0.2)).toBe(true);
    expect(gate.tryHedge(0.2)).toBe(true);
    expect(gate.tryHedge(0.2)).toBe(false);
    c.advance(61_000);
    gate.request();
    expect(gate.tryHedge(0.2)).toBe(true);
  });
  it('p95 needs five samples; a fixed delay is used as given', () => {
    expect(p95([1, 2, 3, 4])).toBeUndefined();
    expect(p95([5, 1, 4, 2, 3, 100])).toBe(100);
    const health = new HealthRegistry().latency({ provider: { name: 'p', baseUrl: 'u' }, model: 'm' } as never);
    expect(hedgeDelay({ after_ms: 'p95', max_share: 1 }, health)).toBeUndefined();
    expect(hedgeDelay({ after_ms: 250, max_share: 1 }, health)).toBe(250);
  });
});

describe('continuation text', () => {
  it('the prefill drops trailing whitespace and the continuation owes it back exactly once', () => {
    const answer = newAnswer({ encode: () => '', error: () => '', terminator: () => '' }, false);
    observeAnswer(answer, [{ type: 'text', choice: 0, text: 'the gateway ' }]);
    expect(prefillOf(answer)).toBe('the gateway');
    expect(answer.continuation([{ type: 'start', id: 'x', model: 'm', created: 0 }, { type: 'text', choice: 0, text: ' routes' }, { type: 'text', choice: 0, text: ' every' }])).toEqual([
      { type: 'text', choice: 0, text: 'routes' },
      { type: 'text', choice: 0, text: ' every' },
    ]);
  });
  it('an answer with a tool call cannot be continued by prefill', () => {
    const answer = newAnswer({ encode: () => '', error: () => '', terminator: () => '' }, false);
    observeAnswer(answer, [{ type: 'text', choice: 0, text: 'let me look' }, { type: 'tool_call', choice: 0, index: 0, id: 't', name: 'f' }]);
    expect(prefillOf(answer)).toBeUndefined();
  });
  it('the simulator completes its own answer from a prefill of it', () => {
    const tokens = textTokens('q', 6, undefined);
    const prefill = tokens.slice(0, 2).join('').trimEnd();
    expect(prefill + continueAfter(tokens, prefill).join('')).toBe(tokens.join(''));
    expect(continueAfter(tokens, 'unrelated')).toEqual(tokens);
  });
});
