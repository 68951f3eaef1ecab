import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EXTRA, HEADROOM, IDLE_MS, MAX_AGE_MS } from '../../gateway/state/leases.js';
import { LeasedState, MemoryState, type RateScope, type ReserveScope } from '../../gateway/state/index.js';

/**
 * Local leases (gateway/state/leases.ts) over an in-process inner store standing in for Redis
 * (the same contract: test/state/governance-state.test.ts runs it on both), on an injected
 * clock: far from a limit most admissions are local; near it every one goes to the shared
 * state; the shared totals never pass a limit, and once leases are given back they hold
 * exactly what the requests cost.
 */
let t = 1_000_000;
const now = () => t;
const open: LeasedState[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

function leased(): { inner: MemoryState; s: LeasedState } {
  const inner = new MemoryState(now);
  const s = new LeasedState(inner, { now });
  open.push(s);
  return { inner, s };
}

const budget = (amount: number, limit: number, add = 'b'): ReserveScope => ({ add, window: [add], amount, limit, ttlMs: 3_600_000 });
// 60 000 rpm with a 60 s burst: room for 60 000 requests.
const rpm = (cost = 1, intervalMs = 1): RateScope => ({ key: 'r', intervalMs, burstMs: 60_000, cost });
const spent = async (inner: MemoryState, key = 'b') => Number((await inner.get(key)) ?? 0);

describe('leased state', () => {
  it('far from the limit, one shared call serves EXTRA + 1 requests, and giving back leaves the exact spend', async () => {
    const { inner, s } = leased();
    for (let i = 0; i < 100; i++) {
      const r = await s.admit([rpm()], [budget(0.01, 1000)]);
      expect(r.ok).toBe(true);
      await s.settle([], [{ key: 'b', by: -0.004, ttlMs: 3_600_000 }]);
    }
    // The first admission only learns the room; after it, one shared call per EXTRA + 1 requests or fewer (reconciles refill the allowance).
    expect(s.remote).toBeLessThanOrEqual(1 + Math.ceil(99 / (EXTRA + 1)));
    expect(s.local).toBe(100 - s.remote);
    expect(await spent(inner)).toBeGreaterThan(100 * 0.006);
    await s.sweep(true);
    expect(await spent(inner)).toBeCloseTo(100 * 0.006, 9);
  });

  it('what the caller sees is its own admission: remaining budget and requests as if no lease were held', async () => {
    const { s } = leased();
    await s.admit([rpm()], [budget(1, 1000)]);
    const second = await s.admit([rpm()], [budget(1, 1000)]);
    expect(second.ok && second.totals[0]).toBeCloseTo(2, 9);
    const third = await s.admit([rpm()], [budget(1, 1000)]);
    expect(third.ok && third.totals[0]).toBeCloseTo(3, 9);
    expect(third.states[0]?.remaining).toBeGreaterThan(59_000);
  });

  it('near a limit there is no lease: every admission goes to the shared state, and it refuses at the limit exactly', async () => {
    const { inner, s } = leased();
    const limit = (HEADROOM - 1) * 0.01;
    let ok = 0;
    for (let i = 0; i < HEADROOM + 5; i++) if ((await s.admit([], [budget(0.01, limit)])).ok) ok++;
    expect(ok).toBe(HEADROOM - 1);
    expect(s.local).toBe(0);
    expect(s.held('b')).toBe(0);
    expect(await spent(inner)).toBeCloseTo(limit, 9);
  });

  it('a rate limit near its burst is admitted one request at a time', async () => {
    const { s } = leased();
    const tight: RateScope = { key: 'r', intervalMs: 1000, burstMs: 10_000, cost: 1 };
    let ok = 0;
    for (let i = 0; i < 20; i++) if ((await s.admit([tight], [])).ok) ok++;
    expect(ok).toBe(11);
    expect(s.local).toBe(0);
  });

  it('an idle lease goes back after IDLE_MS, an old one after MAX_AGE_MS', async () => {
    const { inner, s } = leased();
    await s.admit([], [budget(1, 1000)]);
    await s.admit([], [budget(1, 1000)]);
    expect(s.held('b')).toBe(EXTRA);
    t += IDLE_MS;
    await s.sweep();
    expect(s.held('b')).toBe(0);
    expect(await spent(inner)).toBeCloseTo(2, 9);
    for (let i = 0; i < 3; i++) await s.admit([], [budget(1, 1000)]);
    expect(s.held('b')).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) {
      t += MAX_AGE_MS / 10;
      await s.admit([], [budget(0.001, 1000)]);
    }
    await s.sweep();
    expect(s.held('b')).toBe(0);
  });

  it('a changed limit (config reload) ends the lease: the new shape is admitted against the shared state', async () => {
    const { inner, s } = leased();
    await s.admit([], [budget(1, 1000)]);
    await s.admit([], [budget(1, 1000)]);
    expect(s.held('b')).toBe(EXTRA);
    const r = await s.admit([], [budget(1, 2.5)]);
    expect(r.ok).toBe(false);
    await s.sweep(true);
    expect(await spent(inner)).toBeCloseTo(2, 9);
  });

  it('rate leases give back their units: the TAT ends where the requests alone put it', async () => {
    const { inner, s } = leased();
    const plain = new MemoryState(now);
    for (let i = 0; i < 30; i++) {
      await s.admit([rpm(5, 10)], []);
      await plain.admit([rpm(5, 10)], []);
    }
    await s.sweep(true);
    const probe = [{ ...rpm(1, 10) }];
    const a = await inner.admit(probe, []);
    const b = await plain.admit(probe, []);
    expect(a.states[0]?.resetMs).toBeCloseTo(b.states[0]?.resetMs ?? -1, 3);
    await plain.close();
  });

  it('property: any mix of admissions, reconciles and clock steps never passes a limit, and ends at the exact spend', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ amount: fc.integer({ min: 1, max: 50 }), used: fc.integer({ min: 0, max: 100 }), step: fc.integer({ min: 0, max: 800 }) }), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 50, max: 5000 }),
        async (ops, limitCents) => {
          const { inner, s } = leased();
          const limit = limitCents / 100;
          let exact = 0;
          for (const op of ops) {
            t += op.step;
            const amount = op.amount / 100;
            const r = await s.admit([], [budget(amount, limit)]);
            if (!r.ok) continue;
            const actual = (amount * op.used) / 100;
            exact += actual;
            await s.settle([], [{ key: 'b', by: actual - amount, ttlMs: 3_600_000 }]);
            expect(await spent(inner)).toBeLessThanOrEqual(limit + 1e-9);
          }
          await s.sweep(true);
          expect(await spent(inner)).toBeCloseTo(exact, 6);
        },
      ),
      { numRuns: 60 },
    );
  });
});
