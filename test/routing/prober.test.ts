import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { Prober, type Timers } from '../../gateway/probes/index.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { buildRuntime, type ResolvedTarget, type Runtime } from '../../gateway/runtime/resolve.js';
import { MemoryState, type SharedState, type StateHealth } from '../../gateway/state/index.js';
import { parseConfig } from '../helpers/harness.js';

/**
 * The scheduler alone: a hand-driven clock and timers, scripted probe outcomes (no I/O), so
 * intervals, idleness, reloads and the lease are checked step by step and instantly.
 */
function harness(routes: Record<string, unknown>, o: { state?: SharedState; clock?: { t: number } } = {}) {
  const clock = o.clock ?? { t: 1_000_000 };
  const now = () => clock.t;
  let pending: { fn: () => void; at: number } | undefined;
  const timers: Timers = { set: (fn, ms) => (pending = { fn, at: clock.t + ms }), clear: () => (pending = undefined) };
  let version = 1;
  let rt: Runtime = buildRuntime(parseConfig({ providers: { p: { type: 'openai' } }, routes }), version);
  const health = new HealthRegistry(now);
  const sent: string[] = [];
  const script = new Map<string, (KeelError | undefined)[]>();
  const prober = new Prober({
    runtime: () => {
      health.apply(rt.routes.values(), rt.version);
      return rt;
    },
    health,
    now,
    timers,
    state: o.state,
    send: (t: ResolvedTarget, _hc, _redact, signal) => {
      sent.push(t.model);
      // `hang`: answers only when aborted (stop()), with the abort's reason.
      if (t.model === 'hang') return new Promise((resolve) => signal.onAbort(() => resolve(signal.reason as KeelError)));
      return Promise.resolve(script.get(t.model)?.shift());
    },
  });
  return {
    prober,
    health,
    sent,
    script,
    clock,
    /** Moves the clock to each timer due within `ms`, running it, then lets the probes settle. */
    async run(ms: number) {
      const end = clock.t + ms;
      while (pending !== undefined && pending.at <= end) {
        const p = pending;
        pending = undefined;
        clock.t = Math.max(clock.t, p.at);
        p.fn();
        // Every microtask of the probes it started (scripted sends settle at once) runs before setImmediate.
        await new Promise((r) => setImmediate(r));
      }
      clock.t = end;
    },
    reload(next: Record<string, unknown>) {
      rt = buildRuntime(parseConfig({ providers: { p: { type: 'openai' } }, routes: next }), ++version);
    },
    state: (route: string, model: string) => health.breakers().find((b) => b.route === route && b.model === model)?.state,
  };
}

const down = () => new KeelError('KEEL_UPSTREAM_ERROR', 'down');
const own4xx = () => new KeelError('KEEL_UPSTREAM_REJECTED', 'bad', { status: 400, errorClass: 'caller_rejected' });
const hc = { interval_s: 1 };

describe('Prober', () => {
  it('probes each distinct target once per interval, on every route listing it; untargeted ones never', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'm', health_check: hc }, { provider: 'p', model: 'plain' }] }, b: { targets: [{ provider: 'p', model: 'm', health_check: hc }] } });
    h.prober.start();
    await h.run(3500);
    expect(h.sent).toEqual(['m', 'm', 'm']);
    await h.prober.stop();
  });

  it('3 failures of the last 5 open the target breakers on every route; an inconclusive probe counts for nothing', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'm', health_check: hc }], breaker: { open_s: 60 } }, b: { targets: [{ provider: 'p', model: 'm', health_check: hc }], breaker: { open_s: 60 } } });
    h.script.set('m', [down(), undefined, own4xx(), own4xx(), down()]);
    h.prober.start();
    await h.run(5500);
    // 2 failures of 3 conclusive probes: still closed.
    expect([h.state('a', 'm'), h.state('b', 'm')]).toEqual(['closed', 'closed']);
    h.script.set('m', [down()]);
    await h.run(1000);
    expect([h.state('a', 'm'), h.state('b', 'm')]).toEqual(['open', 'open']);
    await h.prober.stop();
  });

  it('keeps probing an open target; once half-open, a failing probe re-opens it and a good one closes it', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'm', health_check: hc }], breaker: { open_s: 1.5 } } });
    h.script.set('m', [down(), down(), down(), down(), undefined]);
    h.prober.start();
    await h.run(3500);
    expect(h.state('a', 'm')).toBe('open');
    // t=4: open since 3, not half-open yet: the probe fails, nothing changes.
    await h.run(1000);
    expect(h.state('a', 'm')).toBe('half_open');
    // t=5: half-open; the probe succeeds and closes it.
    await h.run(1000);
    expect(h.state('a', 'm')).toBe('closed');
    expect(h.sent).toHaveLength(5);
    await h.prober.stop();
  });

  it('only_when_idle: a target with traffic within the interval is not probed; with only_when_idle false it is', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'busy', health_check: hc }, { provider: 'p', model: 'always', health_check: { ...hc, only_when_idle: false } }] } });
    h.prober.start();
    const targets = [...(buildRuntime(parseConfig({ providers: { p: { type: 'openai' } }, routes: { a: { targets: [{ provider: 'p', model: 'busy' }, { provider: 'p', model: 'always' }] } } }), 1).routes.get('a')?.targets ?? [])];
    for (let i = 0; i < 4; i++) {
      for (const t of targets) h.health.observeOutcome(t, undefined);
      await h.run(1000);
    }
    expect(h.sent.filter((m) => m === 'busy')).toEqual([]);
    expect(h.sent.filter((m) => m === 'always')).toHaveLength(4);
    // Idle for an interval: probed again.
    await h.run(2000);
    expect(h.sent.filter((m) => m === 'busy').length).toBeGreaterThanOrEqual(1);
    await h.prober.stop();
  });

  it('follows reloads: a target added is probed, one removed is not', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'old', health_check: hc }] } });
    h.prober.start();
    await h.run(1000);
    h.reload({ a: { targets: [{ provider: 'p', model: 'new', health_check: hc }] } });
    // Seen on the next tick (t=2), first probed an interval later (t=3), then every interval.
    await h.run(3500);
    expect(h.sent).toEqual(['old', 'new', 'new']);
    expect(h.prober.scheduled()).toEqual(['p|https://api.openai.com/v1|new']);
    await h.prober.stop();
    await h.run(3000);
    expect(h.sent).toHaveLength(3);
  });

  it('stop() cuts a probe under way: no verdict, no record, no wait for its timeout', async () => {
    const h = harness({ a: { targets: [{ provider: 'p', model: 'hang', health_check: { ...hc, timeout_ms: 120_000 } }] } });
    h.prober.start();
    await h.run(1000);
    expect(h.sent).toEqual(['hang']);
    await h.prober.stop();
    expect(h.state('a', 'hang')).toBe('closed');
  });

  it('with a remote store, two replicas probe a target once per interval (a lease per target and interval)', async () => {
    const clock = { t: 1_000_000 };
    const state = new Remote(() => clock.t);
    const routes = { a: { targets: [{ provider: 'p', model: 'm', health_check: hc }] } };
    const one = harness(routes, { state, clock });
    const two = harness(routes, { state, clock });
    one.prober.start();
    two.prober.start();
    for (let i = 0; i < 5; i++) {
      await one.run(500);
      await two.run(500);
    }
    expect(one.sent.length + two.sent.length).toBe(5);
    // Degraded, each replica judges (and probes) alone.
    state.degraded = true;
    for (let i = 0; i < 2; i++) {
      await one.run(500);
      await two.run(500);
    }
    expect(one.sent.length + two.sent.length).toBe(9);
    await one.prober.stop();
    await two.prober.stop();
  });
});

class Remote implements SharedState {
  readonly backend = 'redis' as const;
  degraded = false;
  readonly #m: MemoryState;
  constructor(now: () => number) {
    this.#m = new MemoryState(now);
  }
  health(): StateHealth {
    return { backend: 'redis', degraded: this.degraded, since: undefined, fallbacks: 0, pendingResync: 0 };
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
