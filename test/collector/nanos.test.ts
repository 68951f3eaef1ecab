import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { halvesDiff, halvesToDateTime64, nanosDiff, nanosToDateTime64 } from '../../collector/rows/values.js';

/** The wire decode's fixed64 timestamps as halves (collector/rows/values.ts) against the BigInt path it replaced, which stays the oracle. */
const lo = (v: bigint) => Number(v & 0xffffffffn);
const hi = (v: bigint) => Number(v >> 32n);

describe('fixed64 nanoseconds from their 32-bit halves', () => {
  const any = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  // Near whole seconds (where the double estimate is one off) and today's range.
  const edge = fc.tuple(fc.bigInt({ min: 0n, max: 18_446_744_072n }), fc.constantFrom(0n, 1n, 999_999_999n, 999_999_000n, 1_000n, 500_000_000n)).map(([s, f]) => s * 1_000_000_000n + f);
  const now = fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 2_100_000_000_000_000_000n });
  const nanos = fc.oneof(any, edge, now);

  it('DateTime64 text: the same as nanosToDateTime64 (property)', () => {
    const same = (v: bigint) => {
      expect(halvesToDateTime64(lo(v), hi(v))).toBe(nanosToDateTime64(v));
    };
    fc.assert(fc.property(nanos, same), { numRuns: 20_000 });
    [0n, 2n ** 64n - 1n, 2n ** 53n, 2n ** 53n + 1n, 4_294_967_296n * 1_000_000_000n - 1n].forEach(same);
  });

  it('durations: the same as nanosDiff, negative ones 0, past 2^53 exact (property)', () => {
    const close = fc.tuple(now, fc.bigInt({ min: -(2n ** 40n), max: 2n ** 40n })).map(([s, d]) => [s + d, s] as const);
    const same = ([e, s]: readonly [bigint, bigint]) => {
      expect(halvesDiff(lo(e), hi(e), lo(s), hi(s))).toBe(nanosDiff(e, s));
    };
    fc.assert(fc.property(fc.oneof(fc.tuple(nanos, nanos), close), same), { numRuns: 20_000 });
    ([[2n ** 64n - 1n, 0n], [2n ** 53n, 0n], [2n ** 53n + 1n, 0n], [0n, 2n ** 64n - 1n], [5n, 5n]] as const).forEach(same);
  });
});
