import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { duration, rateHeaders, type RateView } from '../../gateway/stages/rate-headers.js';

/** rate-headers.ts before issue 18's allocation work (filter + stable sort per kind): the reference. */
function rateHeadersBefore(views: readonly RateView[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const tightest = views.filter((v) => v.kind === kind).sort((a, b) => a.state.remaining - b.state.remaining)[0];
    if (tightest === undefined) continue;
    out[`x-ratelimit-limit-${kind}`] = String(tightest.limit);
    out[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, Math.floor(tightest.state.remaining)));
    out[`x-ratelimit-reset-${kind}`] = duration(tightest.state.resetMs);
  }
  return out;
}

// Few distinct values, so ties (the first tightest must win, as the stable sort had it) are common.
const view: fc.Arbitrary<RateView> = fc.record({
  kind: fc.constantFrom('requests' as const, 'tokens' as const),
  limit: fc.nat({ max: 5 }),
  state: fc.record({ remaining: fc.constantFrom(-1, 0, 0.5, 2, 2.5, 9), resetMs: fc.nat({ max: 200_000 }) }),
  intervalMs: fc.nat(),
});

describe('rateHeaders', () => {
  it('names the tightest scope of each kind exactly as before, ties to the first', () => {
    fc.assert(
      fc.property(fc.array(view, { maxLength: 6 }), (views) => {
        expect(rateHeaders(views)).toStrictEqual(rateHeadersBefore(views));
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes into the object it is given, keeping what is there', () => {
    const into: Record<string, string> = { 'x-keel-budget-remaining-usd': '1.000000' };
    const out = rateHeaders([{ kind: 'tokens', limit: 10, state: { remaining: 3, resetMs: 1500 }, intervalMs: 6000 }], into);
    expect(out).toBe(into);
    expect(into).toStrictEqual({ 'x-keel-budget-remaining-usd': '1.000000', 'x-ratelimit-limit-tokens': '10', 'x-ratelimit-remaining-tokens': '3', 'x-ratelimit-reset-tokens': '1.5s' });
  });
});
