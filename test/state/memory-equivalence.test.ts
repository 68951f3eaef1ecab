import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTat } from '../../gateway/state/governance.js';
import { MemoryState } from '../../gateway/state/memory.js';
import type { GovernanceState } from '../../gateway/state/types.js';
import { MemoryStateBefore } from './memory-before.js';

/**
 * MemoryState keeps counters and TATs as numbers (issue 18, the stages); the text-keeping
 * version before it is the oracle. Any sequence of calls on a few shared keys (so a counter is
 * read as a TAT, a TAT as text, a set() string as a counter), on a clock that moves between
 * calls, answers the same, reads the clock as often, and holds as many entries (the sweep included).
 */
const KEYS = ['a', 'b', 'c', 'd'];
const key = fc.constantFrom(...KEYS);
const ttl = fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.constant(0), fc.constant(-1));
const amount = fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: -5, max: 5 }), fc.constantFrom(-0, 0.1, 0.2, 1e-9, Number.NaN, Infinity));
const text = fc.oneof(fc.constantFrom('-0', '0', '1 2', '3 -0', 'x', '', ' ', '1e3', 'Infinity 1'), fc.tuple(fc.nat({ max: 2e12 }), fc.double({ min: -1e5, max: 1e5, noNaN: true })).map(([b, o]) => formatTat(b, o)), fc.double().map(String));
const rateScope = fc.record({ key, intervalMs: fc.oneof(fc.double({ min: 1e-4, max: 1e4, noNaN: true }), fc.constant(0)), burstMs: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.constant(-1)), cost: fc.oneof(fc.nat({ max: 50 }), fc.double({ min: 0, max: 5, noNaN: true })) });
const reserveScope = fc.record({ add: key, window: fc.array(key, { maxLength: 3 }), amount, limit: fc.oneof(amount, fc.constant(1e9)), ttlMs: ttl });

const op = fc.oneof(
  fc.record({ op: fc.constant('incr' as const), key, by: amount, ttlMs: ttl }),
  fc.record({ op: fc.constant('rate' as const), scopes: fc.array(rateScope, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('reserve' as const), scopes: fc.array(reserveScope, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('admit' as const), rate: fc.array(rateScope, { maxLength: 3 }), reserve: fc.array(reserveScope, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('settle' as const), adjust: fc.array(fc.record({ key, intervalMs: fc.double({ min: 1e-4, max: 1e3, noNaN: true }), delta: amount }), { maxLength: 2 }), incr: fc.array(fc.record({ key, by: amount, ttlMs: ttl }), { maxLength: 2 }) }),
  fc.record({ op: fc.constant('rateAdjust' as const), key, intervalMs: fc.double({ min: 1e-4, max: 1e3, noNaN: true }), delta: amount }),
  fc.record({ op: fc.constant('get' as const), keys: fc.array(key, { minLength: 1, maxLength: 3 }) }),
  fc.record({ op: fc.constant('set' as const), key, value: text, ttlMs: ttl }),
  fc.record({ op: fc.constant('cas' as const), key, expected: fc.option(text, { nil: undefined }), value: text, ttlMs: ttl }),
  fc.record({ op: fc.constant('lease' as const), key, owner: fc.constantFrom('o1', 'o2', '1 2'), ttlMs: ttl, release: fc.boolean() }),
  // Enough distinct keys to cross the sweep threshold (1024 inserts), some already expired.
  fc.record({ op: fc.constant('flood' as const), n: fc.integer({ min: 200, max: 1_200 }), ttlMs: fc.integer({ min: 1, max: 100 }) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

async function apply(s: GovernanceState, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'incr':
      return s.incr(o.key, o.by, o.ttlMs);
    case 'rate':
      return s.rate(o.scopes);
    case 'reserve':
      return s.reserve(o.scopes);
    case 'admit':
      return s.admit(o.rate, o.reserve);
    case 'settle':
      return s.settle(o.adjust, o.incr);
    case 'rateAdjust':
      return s.rateAdjust(o.key, o.intervalMs, o.delta);
    case 'get':
      return [await s.get(o.keys[0] ?? 'a'), await s.getMany(o.keys)];
    case 'set':
      return s.set(o.key, o.value, o.ttlMs);
    case 'cas':
      return s.compareAndSet(o.key, o.expected, o.value, o.ttlMs);
    case 'lease':
      return o.release ? s.release(o.key, o.owner) : s.lease(o.key, o.owner, o.ttlMs);
    case 'flood':
      for (let i = 0; i < o.n; i++) await s.set(`flood:${i}:${o.ttlMs}`, String(i), o.ttlMs);
      return undefined;
  }
}

const settled = async (f: () => Promise<unknown>): Promise<unknown> => {
  try {
    return { ok: await f() };
  } catch (err) {
    return { threw: err instanceof Error ? err.message : String(err) };
  }
};

describe('MemoryState (numbers kept as numbers) against the text-keeping version', () => {
  it('answers every call alike, reads the clock as often and holds as many entries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, fc.oneof(fc.integer({ min: 0, max: 400 }), fc.double({ min: 0, max: 3, noNaN: true }))), { minLength: 1, maxLength: 40 }), async (steps) => {
        let t = 1_764_000_000_000;
        const calls = { now: 0, before: 0 };
        const now = new MemoryState(() => (calls.now++, t));
        const before = new MemoryStateBefore(() => (calls.before++, t));
        for (const [o, gap] of steps) {
          t += gap;
          const a = await settled(() => apply(now, o));
          const b = await settled(() => apply(before, o));
          expect(a).toStrictEqual(b);
          expect(calls.now).toBe(calls.before);
          expect(now.size).toBe(before.size);
        }
        for (const k of KEYS) expect(await now.get(k)).toBe(await before.get(k));
      }),
      { numRuns: 400 },
    );
  });

  it('alike on the negative zeros a text value can carry into a counter or a TAT', async () => {
    const t = 1_764_000_000_000;
    const cases: Op[][] = [
      [{ op: 'set', key: 'a', value: '-0', ttlMs: 1_000 }, { op: 'incr', key: 'a', by: -0, ttlMs: 1_000 }, { op: 'get', keys: ['a'] }, { op: 'incr', key: 'a', by: -0, ttlMs: 1_000 }],
      [{ op: 'set', key: 'a', value: `${t + 1e6} -0`, ttlMs: 1_000 }, { op: 'rateAdjust', key: 'a', intervalMs: 1, delta: -0 }, { op: 'get', keys: ['a'] }, { op: 'rate', scopes: [{ key: 'a', intervalMs: 1, burstMs: 0, cost: 0 }] }],
      [{ op: 'set', key: 'a', value: '-0 5', ttlMs: 1_000 }, { op: 'rate', scopes: [{ key: 'a', intervalMs: 1, burstMs: 10, cost: 1 }] }, { op: 'get', keys: ['a'] }],
    ];
    for (const steps of cases) {
      const now = new MemoryState(() => t);
      const before = new MemoryStateBefore(() => t);
      for (const o of steps) expect(await settled(() => apply(now, o))).toStrictEqual(await settled(() => apply(before, o)));
    }
  });
});
