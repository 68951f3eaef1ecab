import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryState, RedisState, ResilientState, type GovernanceState, type RateScope, type ReserveScope } from '../../gateway/state/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * The budget and rate-limit primitives (reserve, rate, rateAdjust): one contract on both
 * backends, concurrency included (Redis runs each call as one script); GCRA's bound and the
 * budget invariant as properties on an injected clock; and local enforcement under
 * ResilientState while Redis is away.
 */
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

let n = 0;
const key = (name: string) => `${name}-${++n}-${Date.now()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const budget = (k: string, amount: number, limit: number, window: readonly string[] = [k]): ReserveScope => ({ add: k, window, amount, limit, ttlMs: 60_000 });

describe.each([
  ['memory', () => new MemoryState()],
  ['redis', () => new RedisState({ url: redis.url, commandTimeoutMs: 200, keyPrefix: 'gov:' })],
] as const)('governance state contract: %s', (_name, make) => {
  let s: GovernanceState;
  beforeAll(async () => {
    s = make();
    if (s instanceof RedisState) await s.ready();
  });
  afterAll(() => s.close());

  it('incr takes negative amounts (reconciling a reservation down), also on an absent counter', async () => {
    const k = key('neg');
    await s.incr(k, 5, 60_000);
    expect(await s.incr(k, -2.5, 60_000)).toBeCloseTo(2.5, 9);
    expect(await s.incr(k, -2.5, 60_000)).toBeCloseTo(0, 9);
    expect(await s.incr(key('neg'), -1, 60_000)).toBe(-1);
  });

  it('reserve admits up to the limit exactly: 10 of 50 concurrent reservations of 1 under a limit of 10', async () => {
    const k = key('reserve');
    const rs = await Promise.all(Array.from({ length: 50 }, () => s.reserve([budget(k, 1, 10)])));
    const ok = rs.filter((r) => r.ok);
    expect(ok).toHaveLength(10);
    expect(ok.map((r) => r.totals[0]).sort((a = 0, b = 0) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (const r of rs.filter((r) => !r.ok)) expect(r).toEqual({ ok: false, over: 0, totals: [10] });
    expect(Number(await s.get(k))).toBe(10);
  });

  it('fractions that sum exactly to the limit are admitted, and one more is not', async () => {
    const k = key('fraction');
    for (let i = 0; i < 10; i++) expect((await s.reserve([budget(k, 0.1, 1)])).ok).toBe(true);
    const r = await s.reserve([budget(k, 0.1, 1)]);
    expect(r.ok).toBe(false);
    expect(r.totals[0]).toBeCloseTo(1, 9);
  });

  it('all or nothing across scopes: a full team budget leaves the key budget untouched', async () => {
    const [k, team] = [key('key'), key('team')];
    await s.incr(team, 9.5, 60_000);
    const r = await s.reserve([budget(k, 1, 100), budget(team, 1, 10)]);
    expect(r).toEqual({ ok: false, over: 1, totals: [0, 9.5] });
    expect(await s.get(k)).toBeUndefined();
    expect(await s.reserve([budget(k, 0.5, 100), budget(team, 0.5, 10)])).toEqual({ ok: true, totals: [0.5, 10] });
    expect(await s.getMany([k, team])).toEqual(['0.5', '10']);
  });

  it('a rolling window sums several buckets; only the current one receives the amount', async () => {
    const [b1, b2, b3] = [key('bucket'), key('bucket'), key('bucket')];
    await s.incr(b1, 4, 60_000);
    await s.incr(b2, 3, 60_000);
    expect(await s.reserve([budget(b3, 3, 10, [b1, b2, b3])])).toEqual({ ok: true, totals: [10] });
    expect(await s.reserve([budget(b3, 0.5, 10, [b1, b2, b3])])).toEqual({ ok: false, over: 0, totals: [10] });
    expect(await s.getMany([b1, b2, b3])).toEqual(['4', '3', '3']);
    // The oldest bucket leaves the window: room again.
    expect(await s.reserve([budget(b3, 4, 10, [b2, b3])])).toEqual({ ok: true, totals: [10] });
  });

  it('the counter reserve creates expires ttl after it was created', async () => {
    const k = key('reserve-ttl');
    await s.reserve([{ add: k, window: [k], amount: 1, limit: 10, ttlMs: 100 }]);
    expect(await s.get(k)).toBe('1');
    await sleep(150);
    expect(await s.get(k)).toBeUndefined();
  });

  const T = 1000;
  it('rate admits a burst, then throttles with the wait until one unit fits', async () => {
    const scope: RateScope = { key: key('rate'), intervalMs: T, burstMs: 3 * T, cost: 1 };
    const t0 = performance.now();
    const admitted = [];
    for (let i = 0; i < 4; i++) admitted.push(await s.rate([scope]));
    for (const [i, r] of admitted.entries()) {
      expect(r.ok).toBe(true);
      expect(r.states[0]?.remaining).toBe(3 - i);
      expect(r.states[0]?.resetMs).toBeGreaterThan((i + 1) * T - 100);
      expect(r.states[0]?.resetMs).toBeLessThanOrEqual((i + 1) * T);
    }
    const r = await s.rate([scope]);
    const elapsed = performance.now() - t0;
    if (r.ok) throw new Error('the fifth request of a burst of 3 intervals was admitted');
    expect(r.over).toBe(0);
    // Four intervals ahead, room for τ + T = four: one interval less what has passed.
    expect(r.retryAfterMs).toBeGreaterThan(T - elapsed - 5);
    expect(r.retryAfterMs).toBeLessThanOrEqual(T);
    expect(r.states[0]?.remaining).toBe(0);
    expect(r.states[0]?.resetMs).toBeGreaterThan(4 * T - elapsed - 5);
  });

  it('rate is all or nothing across scopes, and waits for the slowest', async () => {
    const a: RateScope = { key: key('rpm'), intervalMs: T, burstMs: 5 * T, cost: 1 };
    const b: RateScope = { key: key('tpm'), intervalMs: 10, burstMs: 0, cost: 100 };
    expect((await s.rate([a, b])).ok).toBe(true);
    const r = await s.rate([a, b]);
    if (r.ok) throw new Error('admitted over the token scope');
    expect(r.over).toBe(1);
    expect(r.retryAfterMs).toBeGreaterThan(900);
    expect(r.states.map((x) => x.remaining)).toEqual([5, 0]);
    // a was not advanced by the refusal.
    expect((await s.rate([a])).states[0]?.remaining).toBe(4);
  });

  it('a cost beyond the burst passes only on an idle scope', async () => {
    const big: RateScope = { key: key('big'), intervalMs: 100, burstMs: 200, cost: 10 };
    expect(await s.rate([big])).toMatchObject({ ok: true, states: [{ remaining: 0 }] });
    const again = await s.rate([big]);
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.retryAfterMs).toBeGreaterThan(900); // until idle: 1000 ms of TAT ahead
    const small = await s.rate([{ ...big, cost: 1 }]);
    if (small.ok) throw new Error('admitted while 10 intervals ahead');
    // d + T − (τ + T) = 1000 + 100 − 300.
    expect(small.retryAfterMs).toBeGreaterThan(700);
    expect(small.retryAfterMs).toBeLessThanOrEqual(800);
  });

  it('rateAdjust gives back (never below now) and charges more', async () => {
    const scope: RateScope = { key: key('adjust'), intervalMs: T, burstMs: 0, cost: 1 };
    expect((await s.rate([scope])).ok).toBe(true);
    expect((await s.rate([scope])).ok).toBe(false);
    await s.rateAdjust(scope.key, T, -1);
    expect((await s.rate([scope])).ok).toBe(true);
    await s.rateAdjust(scope.key, T, -100);
    expect(await s.get(scope.key)).toBeUndefined();
    await s.rateAdjust(scope.key, T, 2);
    const r = await s.rate([scope]);
    if (r.ok) throw new Error('admitted two intervals ahead');
    expect(r.retryAfterMs).toBeGreaterThan(1900);
    expect(r.states[0]?.resetMs).toBeGreaterThan(1900);
  });

  it('500 concurrent rate() calls at cost 1 with a burst of 9 intervals admit exactly 10', async () => {
    const scope: RateScope = { key: key('herd'), intervalMs: 60_000, burstMs: 9 * 60_000, cost: 1 };
    const rs = await Promise.all(Array.from({ length: 500 }, () => s.rate([scope])));
    expect(rs.filter((r) => r.ok)).toHaveLength(10);
  });

  it('sub-ms intervals keep their precision: 2000 advances of 0.006 ms (10M TPM) move a TAT by 12 ms', async () => {
    const k = key('precise');
    // Far ahead, so the TAT never idles (and is never rebased) while the advances run.
    await s.rateAdjust(k, 1, 1e6);
    const offset = async () => Number((await s.get(k))?.split(' ')[1]);
    const before = await offset();
    for (let i = 0; i < 2000; i++) await s.rateAdjust(k, 60_000 / 1e7, 1);
    // Epoch-ms doubles (ulp 0.24 µs) drift here by up to 0.24 ms.
    expect(Math.abs((await offset()) - before - 12)).toBeLessThan(1e-6);
  });

  it('a TAT key expires once back to now (plus a margin)', async () => {
    const k = key('tat-ttl');
    await s.rate([{ key: k, intervalMs: 50, burstMs: 0, cost: 1 }]);
    expect(await s.get(k)).toBeDefined();
    await sleep(1200);
    expect(await s.get(k)).toBeUndefined();
  });
});

describe('properties on an injected clock (MemoryState)', () => {
  it('GCRA: admitted units in any window of W ms stay within W/T + τ/T + 1, per scope', async () => {
    const arrival = fc.record({ gap: fc.integer({ min: 0, max: 300 }), cost: fc.nat() });
    const scope = fc.record({ intervalMs: fc.integer({ min: 1, max: 100 }), burstMs: fc.integer({ min: 0, max: 500 }) });
    await fc.assert(
      fc.asyncProperty(scope, scope, fc.array(arrival, { minLength: 1, maxLength: 200 }), async (a, b, arrivals) => {
        let t = 1_000_000;
        const s = new MemoryState(() => t);
        const admitted: { t: number; costs: [number, number] }[] = [];
        for (const x of arrivals) {
          t += x.gap;
          // Requests cost 1 on a; tokens cost what fits b's burst (an oversized cost is outside the bound).
          const cost = 1 + (x.cost % Math.floor((b.burstMs + b.intervalMs) / b.intervalMs));
          const r = await s.rate([{ key: 'a', ...a, cost: 1 }, { key: 'b', ...b, cost }]);
          if (r.ok) admitted.push({ t, costs: [1, cost] });
        }
        for (const [k, sc] of [a, b].entries()) {
          for (let i = 0; i < admitted.length; i++) {
            let units = 0;
            for (let j = i; j < admitted.length; j++) {
              units += admitted[j]?.costs[k] ?? 0;
              const w = (admitted[j]?.t ?? 0) - (admitted[i]?.t ?? 0);
              if (units > w / sc.intervalMs + sc.burstMs / sc.intervalMs + 1) return false;
            }
          }
        }
        return admitted.length > 0;
      }),
      { numRuns: 300 },
    );
  });

  it('GCRA on a frozen clock admits exactly B + 1 units of a burst of B intervals, for any rpm or tpm', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 1500 }), async (perMinute, b) => {
        const t = Date.now();
        const s = new MemoryState(() => t);
        const scope: RateScope = { key: 'k', intervalMs: 60_000 / perMinute, burstMs: (b * 60_000) / perMinute, cost: 1 };
        let admitted = 0;
        for (let i = 0; i < b + 5; i++) if ((await s.rate([scope])).ok) admitted++;
        return admitted === b + 1;
      }),
      { numRuns: 60 },
    );
  });

  it('reserve: no rolling window ever exceeds its limit, refusals change nothing, and what fits is admitted', async () => {
    const BUCKET = 100;
    const op = fc.record({ gap: fc.integer({ min: 0, max: 150 }), amount: fc.integer({ min: 0, max: 12 }).map((q) => q / 4), scopes: fc.subarray([0, 1, 2], { minLength: 1 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 3, maxLength: 3 }), fc.array(op, { maxLength: 150 }), async (limits, ops) => {
        let t = 1_000_000;
        const s = new MemoryState(() => t);
        // Scope i sums the last i + 1 buckets (a rolling window) and adds to the current one.
        const scopeOf = (i: number, amount: number): ReserveScope => {
          const cur = Math.floor(t / BUCKET);
          const window = Array.from({ length: i + 1 }, (_, j) => `s${i}:${cur - j}`);
          return { add: window[0] ?? '', window, amount, limit: limits[i] ?? 0, ttlMs: (i + 1) * BUCKET };
        };
        for (const o of ops) {
          t += o.gap;
          const scopes = o.scopes.map((i) => scopeOf(i, o.amount));
          const before = await Promise.all(scopes.map((sc) => s.getMany(sc.window)));
          const sums = before.map((vs) => vs.reduce((acc, v) => acc + Number(v ?? 0), 0));
          const fits = scopes.every((sc, i) => (sums[i] ?? 0) + sc.amount <= sc.limit + 1e-9);
          const r = await s.reserve(scopes);
          if (r.ok !== fits) return false;
          const after = await Promise.all(scopes.map((sc) => s.getMany(sc.window)));
          if (!r.ok && JSON.stringify(after) !== JSON.stringify(before)) return false;
          for (const [i, sc] of scopes.entries()) {
            const sum = (after[i] ?? []).reduce((acc, v) => acc + Number(v ?? 0), 0);
            if (sum > sc.limit + 1e-9 || Math.abs(sum - (r.totals[i] ?? NaN)) > 1e-9) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('Redis goes away (ResilientState)', () => {
  it('reserve and rate fall back to local state and still enforce their limits; reserved amounts are added back', async () => {
    const logs: string[] = [];
    const s = new ResilientState(new RedisState({ url: redis.url, commandTimeoutMs: 20, keyPrefix: 'gov-resilient:' }), { log: (m) => logs.push(m), probeMs: 100 });
    await sleep(200);
    const [k, team, tat] = [key('down-key'), key('down-team'), key('down-rate')];
    expect((await s.reserve([budget(k, 1, 5), budget(team, 1, 100)])).ok).toBe(true);
    await redis.stop();
    const rs = [];
    for (let i = 0; i < 10; i++) rs.push(await s.reserve([budget(k, 1, 5), budget(team, 1, 100)]));
    expect(s.health().degraded).toBe(true);
    // Local state starts empty: five fit the key's limit of 5 here, the sixth on is refused.
    expect(rs.map((r) => r.ok)).toEqual([true, true, true, true, true, false, false, false, false, false]);
    expect(rs[9]).toEqual({ ok: false, over: 0, totals: [5, 5] });
    const scope: RateScope = { key: tat, intervalMs: 60_000, burstMs: 60_000, cost: 1 };
    const rates = [];
    for (let i = 0; i < 4; i++) rates.push((await s.rate([scope])).ok);
    expect(rates).toEqual([true, true, false, false]);
    await s.rateAdjust(tat, 60_000, -1);
    expect((await s.rate([scope])).ok).toBe(true);
    expect(s.health().pendingResync).toBe(2);
    await redis.start();
    for (let i = 0; i < 100 && s.health().degraded; i++) await sleep(100);
    expect(s.health().degraded).toBe(false);
    expect(logs.filter((l) => /2 of 2 local counters added back/.test(l))).toHaveLength(1);
    // Redis restarted empty: the shared spend is what this replica reserved alone; TATs stayed local.
    expect(await s.getMany([k, team, tat])).toEqual(['5', '5', undefined]);
    await s.close();
  }, 20_000);
});
