import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryState, RedisState, ResilientState, type GovernanceState, type RateScope, type ReserveScope } from '../../gateway/state/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * The budget and rate-limit primitives (reserve, rate, rateAdjust, and admit and settle, which
 * combine them): one contract on both
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

  it('admit is all or nothing across kinds: a full budget consumes no rate', async () => {
    const rpm: RateScope = { key: key('admit-rpm'), intervalMs: T, burstMs: 0, cost: 1 };
    const [k, team] = [key('admit-key'), key('admit-team')];
    await s.incr(team, 9.5, 60_000);
    const r = await s.admit([rpm], [budget(k, 1, 100), budget(team, 1, 10)]);
    if (r.ok || r.refused !== 'reserve') throw new Error(`expected a budget refusal, got ${JSON.stringify(r)}`);
    expect(r.over).toBe(1);
    expect(r.totals).toEqual([0, 9.5]);
    // The rate scope as found: idle, one unit of room.
    expect(r.states).toEqual([{ remaining: 1, resetMs: 0 }]);
    expect(await s.get(rpm.key)).toBeUndefined();
    expect(await s.get(k)).toBeUndefined();
    // Nothing was consumed: the same rate scope still admits its one unit, with a budget that fits.
    const ok = await s.admit([rpm], [budget(k, 0.5, 100), budget(team, 0.5, 10)]);
    if (!ok.ok) throw new Error(`refused: ${JSON.stringify(ok)}`);
    expect(ok.totals).toEqual([0.5, 10]);
    expect(ok.states[0]?.remaining).toBe(0);
    expect(ok.states[0]?.resetMs).toBeGreaterThan(T - 100);
    expect(await s.getMany([k, team])).toEqual(['0.5', '10']);
  });

  it('admit is all or nothing across kinds: an exhausted rate reserves nothing', async () => {
    const rpm: RateScope = { key: key('admit-rpm'), intervalMs: T, burstMs: T, cost: 1 };
    const tpm: RateScope = { key: key('admit-tpm'), intervalMs: 10, burstMs: 0, cost: 100 };
    const k = key('admit-key');
    expect(await s.admit([rpm, tpm], [budget(k, 1, 10)])).toMatchObject({ ok: true, totals: [1] });
    const r = await s.admit([rpm, tpm], [budget(k, 1, 10)]);
    if (r.ok || r.refused !== 'rate') throw new Error(`expected a rate refusal, got ${JSON.stringify(r)}`);
    expect(r.over).toBe(1);
    expect(r.retryAfterMs).toBeGreaterThan(900);
    expect(r.totals).toEqual([1]);
    expect(r.states.map((x) => x.remaining)).toEqual([1, 0]);
    expect(await s.get(k)).toBe('1');
    // The rpm scope was not advanced by the refusal.
    expect((await s.rate([rpm])).states[0]?.remaining).toBe(0);
    // Over both: refused for the rate, the budget untouched.
    const both = await s.admit([tpm], [budget(k, 20, 10)]);
    expect(both).toMatchObject({ ok: false, refused: 'rate', over: 0 });
    expect(await s.get(k)).toBe('1');
  });

  it('admit with one kind only, or none, behaves as rate or reserve', async () => {
    expect(await s.admit([], [])).toEqual({ ok: true, states: [], totals: [] });
    const k = key('admit-only');
    expect(await s.admit([], [budget(k, 2, 3)])).toEqual({ ok: true, states: [], totals: [2] });
    expect(await s.admit([], [budget(k, 2, 3)])).toEqual({ ok: false, refused: 'reserve', over: 0, states: [], totals: [2] });
    const rpm: RateScope = { key: key('admit-only-rpm'), intervalMs: T, burstMs: 0, cost: 1 };
    expect(await s.admit([rpm], [])).toMatchObject({ ok: true, totals: [] });
    expect(await s.admit([rpm], [])).toMatchObject({ ok: false, refused: 'rate', over: 0, totals: [] });
  });

  it('200 concurrent admits never exceed a budget or a burst', async () => {
    // The budget binds: room for 7 under a burst of 19.
    const loose: RateScope = { key: key('herd-rpm'), intervalMs: 60_000, burstMs: 19 * 60_000, cost: 1 };
    const k1 = key('herd-budget');
    const a = await Promise.all(Array.from({ length: 200 }, () => s.admit([loose], [budget(k1, 1, 7)])));
    expect(a.filter((r) => r.ok)).toHaveLength(7);
    expect(a.filter((r) => !r.ok && r.refused === 'reserve')).toHaveLength(193);
    expect(Number(await s.get(k1))).toBe(7);
    // Exactly 7 units taken from the rate scope: 13 more fit its burst.
    expect((await s.rate([{ ...loose, cost: 13 }])).ok).toBe(true);
    expect((await s.rate([loose])).ok).toBe(false);
    // The burst binds: 10 admitted under a budget with room for 50, and only their amounts reserved.
    const tight: RateScope = { key: key('herd-rpm'), intervalMs: 60_000, burstMs: 9 * 60_000, cost: 1 };
    const k2 = key('herd-budget');
    const b = await Promise.all(Array.from({ length: 200 }, () => s.admit([tight], [budget(k2, 1, 50)])));
    expect(b.filter((r) => r.ok)).toHaveLength(10);
    expect(b.filter((r) => !r.ok && r.refused === 'rate')).toHaveLength(190);
    expect(Number(await s.get(k2))).toBe(10);
  });

  it('settle moves TATs and counters in one call', async () => {
    const tpm: RateScope = { key: key('settle-tpm'), intervalMs: 10, burstMs: 0, cost: 100 };
    const [k, team] = [key('settle-key'), key('settle-team')];
    expect((await s.admit([tpm], [budget(k, 2, 10), budget(team, 2, 10)])).ok).toBe(true);
    expect((await s.rate([{ ...tpm, cost: 1 }])).ok).toBe(false);
    // Reconciled: 100 tokens reserved, none used; $2 reserved, $0.5 spent.
    await s.settle([{ key: tpm.key, intervalMs: tpm.intervalMs, delta: -100 }], [
      { key: k, by: -1.5, ttlMs: 60_000 },
      { key: team, by: -1.5, ttlMs: 60_000 },
    ]);
    expect(await s.get(tpm.key)).toBeUndefined();
    expect(await s.getMany([k, team])).toEqual(['0.5', '0.5']);
    await s.settle([], []);
    await s.settle([{ key: tpm.key, intervalMs: 1000, delta: 2 }], []);
    const r = await s.rate([{ ...tpm, cost: 1 }]);
    if (r.ok) throw new Error('admitted two seconds ahead');
    expect(r.retryAfterMs).toBeGreaterThan(1900);
    await s.settle([], [{ key: key('settle-new'), by: -1, ttlMs: 60_000 }]);
  });

  it('admit and settle refuse bad arguments', async () => {
    await expect(s.admit([{ key: 'x', intervalMs: 0, burstMs: 0, cost: 1 }], [])).rejects.toThrow(RangeError);
    await expect(s.admit([], [{ ...budget('x', 1, 1), amount: Number.NaN }])).rejects.toThrow(RangeError);
    await expect(s.settle([{ key: 'x', intervalMs: 1, delta: Number.POSITIVE_INFINITY }], [])).rejects.toThrow(RangeError);
    await expect(s.settle([], [{ key: 'x', by: 1, ttlMs: 0 }])).rejects.toThrow(RangeError);
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

describe('admit agrees with rate and reserve (MemoryState, injected clock)', () => {
  it('admits exactly when both would, refuses for the rate first, and a refusal changes nothing', async () => {
    const op = fc.record({ gap: fc.integer({ min: 0, max: 300 }), cost: fc.integer({ min: 0, max: 4 }), amount: fc.integer({ min: 0, max: 8 }).map((q) => q / 4) });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 12 }), fc.array(op, { minLength: 1, maxLength: 80 }), async (intervalMs, burstMs, limit, ops) => {
        let t = 1_000_000;
        // `twin` replays the same decisions through rate() and reserve() on their own.
        const s = new MemoryState(() => t);
        const twin = new MemoryState(() => t);
        for (const o of ops) {
          t += o.gap;
          const rate: RateScope[] = [{ key: 'r', intervalMs, burstMs, cost: o.cost }];
          const reserve: ReserveScope[] = [{ add: 'b', window: ['b'], amount: o.amount, limit, ttlMs: 1e9 }];
          const before = await s.getMany(['r', 'b']);
          const r = await s.admit(rate, reserve);
          const tr = await twin.rate(rate);
          const tb = tr.ok ? await twin.reserve(reserve) : undefined;
          if (tr.ok && tb !== undefined && !tb.ok) await twin.rateAdjust('r', intervalMs, -o.cost);
          const expected = !tr.ok ? 'rate' : tb?.ok === true ? 'ok' : 'reserve';
          if ((r.ok ? 'ok' : r.refused) !== expected) return false;
          if (!r.ok && JSON.stringify(await s.getMany(['r', 'b'])) !== JSON.stringify(before)) return false;
          if (JSON.stringify(await s.getMany(['b'])) !== JSON.stringify(await twin.getMany(['b']))) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});

describe('Redis goes away (ResilientState)', () => {
  it('admit and settle fall back to local state; reserved amounts and settled counters are added back, TATs are not', async () => {
    const logs: string[] = [];
    const s = new ResilientState(new RedisState({ url: redis.url, commandTimeoutMs: 20, keyPrefix: 'gov-resilient-admit:' }), { log: (m) => logs.push(m), probeMs: 100 });
    await sleep(200);
    const [k, team, tat] = [key('down-key'), key('down-team'), key('down-rate')];
    const scope: RateScope = { key: tat, intervalMs: 60_000, burstMs: 60_000, cost: 1 };
    expect((await s.admit([scope], [budget(k, 1, 5), budget(team, 1, 100)])).ok).toBe(true);
    await redis.stop();
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await s.admit([scope], [budget(k, 1, 5), budget(team, 1, 100)]));
    expect(s.health().degraded).toBe(true);
    // Local state starts empty: two fit the burst, the third is refused for its rate and reserves nothing.
    expect(rs.map((r) => (r.ok ? 'ok' : r.refused))).toEqual(['ok', 'ok', 'rate', 'rate']);
    expect(rs[3]).toMatchObject({ totals: [2, 2] });
    await s.settle([{ key: tat, intervalMs: 60_000, delta: -1 }], [{ key: k, by: -0.5, ttlMs: 60_000 }]);
    expect(await s.admit([scope], [budget(k, 1, 5), budget(team, 1, 100)])).toMatchObject({ ok: true, totals: [2.5, 3] });
    expect(s.health().pendingResync).toBe(2);
    await redis.start();
    for (let i = 0; i < 100 && s.health().degraded; i++) await sleep(100);
    expect(s.health().degraded).toBe(false);
    expect(logs.filter((l) => /2 of 2 local counters added back/.test(l))).toHaveLength(1);
    expect(await s.getMany([k, team, tat])).toEqual(['2.5', '3', undefined]);
    await s.close();
  }, 20_000);


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
