import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FAILURES, outcomeOf, probeChatBody, ProbeWindow, WINDOW } from '../../gateway/probes/index.js';
import { CircuitBreaker } from '../../gateway/routing/breaker.js';
import { SharedBreaker } from '../../gateway/routing/shared-breaker.js';
import { buildRuntime } from '../../gateway/runtime/resolve.js';
import { MemoryState, type SharedState, type StateHealth } from '../../gateway/state/index.js';
import { parseConfig } from '../helpers/harness.js';

/** The pure rules of active health checks, and the two breaker operations they added. */
describe('probe verdicts', () => {
  it('charges the target only with what real attempts charge it with', () => {
    expect(outcomeOf(undefined)).toBe('ok');
    for (const cls of ['provider_error', 'provider_timeout', 'provider_unavailable', 'provider_credential', 'provider_rejected', 'provider_malformed', 'provider_reset'] as const) expect(outcomeOf(cls)).toBe('failed');
    // A 4xx about the probe's own request, or Keel failing to build it: no verdict.
    for (const cls of ['caller_rejected', 'caller_context_length', 'caller_invalid', 'gateway_encode', 'gateway_internal'] as const) expect(outcomeOf(cls)).toBe('inconclusive');
  });

  it('3 failures of the last 5, the latest among them, make a target dead (a model of the window, any sequence)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 30 }), (seq) => {
        const w = new ProbeWindow();
        for (const ok of seq) w.push(ok);
        const last = seq.slice(-WINDOW);
        expect(w.size).toBe(last.length);
        expect(w.failures).toBe(last.filter((ok) => !ok).length);
        expect(w.dead).toBe(last.at(-1) === false && last.filter((ok) => !ok).length >= FAILURES);
      }),
    );
    const w = new ProbeWindow();
    for (const ok of [false, true, false, true]) w.push(ok);
    expect(w.dead).toBe(false);
    w.push(false);
    expect(w.dead).toBe(true);
    w.reset();
    expect(w.size).toBe(0);
  });

  it('the chat probe is one short user message and one token, in each target format', () => {
    const rt = buildRuntime(
      parseConfig({
        providers: { o: { type: 'openai' }, a: { type: 'anthropic' } },
        routes: { r: { targets: [{ provider: 'o', model: 'gpt-x' }, { provider: 'a', model: 'claude-x' }] } },
      }),
      1,
    );
    const [o, a] = rt.routes.get('r')?.targets ?? [];
    if (o === undefined || a === undefined) throw new Error('targets');
    expect(probeChatBody(o)).toEqual({ model: 'gpt-x', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 });
    expect(probeChatBody(a)).toEqual({ model: 'claude-x', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text', text: 'ping' }] }] });
  });
});

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('CircuitBreaker: trip and takeProbe', () => {
  it('trip opens a closed breaker at once; takeProbe takes only a half-open slot, once', async () => {
    const c = clock();
    const b = new CircuitBreaker({ open_s: 1 }, c.now);
    expect(await b.takeProbe()).toBe(false);
    b.trip();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    expect(await b.takeProbe()).toBe(false);
    c.advance(1000);
    expect(b.state).toBe('half_open');
    expect(await b.takeProbe()).toBe(true);
    // The slot is the probe's: no caller request beside it.
    expect(b.allow()).toBe(false);
    expect(await b.takeProbe()).toBe(false);
    b.record(true);
    expect(b.state).toBe('closed');
  });

  it('a failed probe in the half-open slot opens it again', async () => {
    const c = clock();
    const b = new CircuitBreaker({ open_s: 1 }, c.now);
    b.trip();
    c.advance(1000);
    expect(await b.takeProbe()).toBe(true);
    b.record(false);
    expect(b.state).toBe('open');
  });
});

/** MemoryState behind a "remote" backend name, so the breaker shares its verdict through it. */
class Remote implements SharedState {
  readonly backend = 'redis' as const;
  readonly #m: MemoryState;
  constructor(now: () => number) {
    this.#m = new MemoryState(now);
  }
  health(): StateHealth {
    return { backend: 'redis', degraded: false, since: undefined, fallbacks: 0, pendingResync: 0 };
  }
  incr(k: string, by: number, ttl: number) { return this.#m.incr(k, by, ttl); }
  get(k: string) { return this.#m.get(k); }
  getMany(ks: readonly string[]) { return this.#m.getMany(ks); }
  set(k: string, v: string, ttl: number) { return this.#m.set(k, v, ttl); }
  compareAndSet(k: string, e: string | undefined, v: string, ttl: number) { return this.#m.compareAndSet(k, e, v, ttl); }
  lease(n: string, o: string, ttl: number) { return this.#m.lease(n, o, ttl); }
  release(n: string, o: string) { return this.#m.release(n, o); }
  close() { return this.#m.close(); }
}

const settle = () => new Promise((r) => setTimeout(r, 5));

describe('SharedBreaker: trip and takeProbe', () => {
  it('a trip is the fleet verdict; one replica takes the half-open slot, and its success closes it for both', async () => {
    const c = clock();
    const state = new Remote(c.now);
    const make = (owner: string) => new SharedBreaker({ open_s: 1 }, { state, owner, id: 'breaker:r:t', probeTtlMs: 5000, now: c.now, onError: () => undefined });
    const a = make('a');
    const b = make('b');
    a.trip();
    await settle();
    await b.refresh();
    expect(a.state).toBe('open');
    expect(b.state).toBe('open');
    c.advance(1000);
    expect(await a.takeProbe()).toBe(true);
    expect(await b.takeProbe()).toBe(false);
    a.record(true);
    await settle();
    await b.refresh();
    expect(a.state).toBe('closed');
    expect(b.state).toBe('closed');
  });
});
