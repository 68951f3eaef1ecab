import { describe, expect, it } from 'vitest';
import { SharedBreaker } from '../../gateway/routing/shared-breaker.js';
import { MemoryState, type SharedState, type StateHealth } from '../../gateway/state/index.js';

/**
 * One SharedBreaker over a store that stands for a remote one: what a single replica does with
 * its cached view. What several replicas agree on is tested with real processes
 * (test/state/fleet-breaker.test.ts), never with several objects here.
 */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

type Mode = 'ok' | 'hang' | 'fail';

/** A "remote" store: MemoryState inside, that can hang, fail, or say it is degraded. */
class FakeRemote implements SharedState {
  readonly backend = 'redis' as const;
  mode: Mode = 'ok';
  degraded = false;
  calls = 0;
  readonly #inner: MemoryState;
  constructor(now: () => number) {
    this.#inner = new MemoryState(now);
  }
  health(): StateHealth {
    return { backend: 'redis', degraded: this.degraded, since: undefined, fallbacks: 0, pendingResync: 0 };
  }
  #go<T>(f: () => Promise<T>): Promise<T> {
    this.calls++;
    if (this.mode === 'hang') return new Promise<T>(() => undefined);
    if (this.mode === 'fail') return Promise.reject(new Error('down'));
    return f();
  }
  incr(k: string, by: number, ttl: number) { return this.#go(() => this.#inner.incr(k, by, ttl)); }
  get(k: string) { return this.#go(() => this.#inner.get(k)); }
  getMany(ks: readonly string[]) { return this.#go(() => this.#inner.getMany(ks)); }
  set(k: string, v: string, ttl: number) { return this.#go(() => this.#inner.set(k, v, ttl)); }
  compareAndSet(k: string, e: string | undefined, v: string, ttl: number) { return this.#go(() => this.#inner.compareAndSet(k, e, v, ttl)); }
  lease(n: string, o: string, ttl: number) { return this.#go(() => this.#inner.lease(n, o, ttl)); }
  release(n: string, o: string) { return this.#go(() => this.#inner.release(n, o)); }
  close() { return this.#inner.close(); }
}

/** Lets the background writes and reads (microtasks on MemoryState) finish. */
const settle = () => new Promise((r) => setTimeout(r, 5));

function make(cfg = { consecutive_failures: 3, open_s: 5 }) {
  const c = clock();
  const state = new FakeRemote(c.now);
  let errors = 0;
  const b = new SharedBreaker(cfg, { state, owner: 'me', id: 'breaker:r:t', probeTtlMs: 10_000, now: c.now, onError: () => void errors++ });
  return { c, state, b, errors: () => errors };
}

describe('SharedBreaker (one replica)', () => {
  it("opens from the store's counts, admits one probe per open period once it holds the lease, closes on its success", async () => {
    const { c, b } = make();
    for (let i = 0; i < 3; i++) b.record(false);
    // The verdict is written in the background: the caller never waited for it.
    expect(b.state).toBe('closed');
    await settle();
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    c.advance(5_000);
    expect(b.state).toBe('half_open');
    expect(b.allow()).toBe(false); // claims the lease; the probe is the next request
    await settle();
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false); // one probe at a time
    b.record(false);
    await settle();
    expect(b.state).toBe('open'); // a failed probe re-opens for another open_s
    c.advance(5_000);
    b.allow();
    await settle();
    expect(b.allow()).toBe(true);
    b.record(true);
    await settle();
    expect(b.state).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('a success resets the streak in the store', async () => {
    const { b } = make();
    b.record(false);
    b.record(false);
    await settle();
    b.record(true);
    await settle();
    b.record(false);
    b.record(false);
    await settle();
    expect(b.state).toBe('closed');
    b.record(false);
    await settle();
    expect(b.state).toBe('open');
  });

  it('never waits on the store: allow() answers at once while every call hangs, and the view stays as it was', async () => {
    const { state, b } = make();
    state.mode = 'hang';
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) {
      expect(b.allow()).toBe(true);
      b.record(false);
    }
    expect(performance.now() - t0).toBeLessThan(200);
    expect(state.calls).toBeGreaterThan(0);
    // Nothing came back, so nothing changed (the real store's deadline would degrade it to the local breaker).
    expect(b.state).toBe('closed');
  });

  it('store errors are swallowed and counted', async () => {
    const { state, b, errors } = make();
    state.mode = 'fail';
    b.record(false);
    expect(b.allow()).toBe(true);
    await settle();
    expect(errors()).toBeGreaterThan(0);
  });

  it("while the store is degraded it is this replica's own breaker, synchronous like CircuitBreaker", () => {
    const { state, b } = make();
    state.degraded = true;
    for (let i = 0; i < 3; i++) b.record(false);
    expect(b.state).toBe('open');
    expect(b.allow()).toBe(false);
    expect(state.calls).toBe(0);
  });
});
