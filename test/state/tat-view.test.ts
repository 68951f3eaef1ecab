import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTat, tatView } from '../../gateway/state/governance.js';

/** tatView before issue 18's allocation work (split + map): the reference for what a stored TAT reads as. */
function tatViewBefore(stored: string | undefined, now: number): { base: number; tat: number | undefined; now: number } {
  const [b, o] = (stored ?? '').split(' ').map(Number);
  if (b !== undefined && o !== undefined && Number.isFinite(b) && Number.isFinite(o) && o > now - b) return { base: b, tat: o, now: now - b };
  const base = Math.floor(now);
  return { base, tat: undefined, now: now - base };
}

const now = fc.double({ min: 0, max: 2e12, noNaN: true });
// Stored values as formatTat writes them, and anything else a key could hold: extra fields, doubled or edge spaces, words, empty.
const field = fc.oneof(fc.double({ noNaN: false }).map(String), fc.nat().map(String), fc.constantFrom('', ' ', 'x', 'Infinity', '1e3', '-0', '0x10'));
const stored = fc.oneof(
  fc.tuple(fc.nat({ max: 2e12 }), fc.double({ min: -1e9, max: 1e9, noNaN: true })).map(([b, o]) => formatTat(b, o)),
  fc.array(field, { maxLength: 4 }).map((xs) => xs.join(' ')),
  fc.string({ maxLength: 12 }),
  fc.constant(undefined),
);

describe('tatView', () => {
  it('reads every stored value exactly as the split-based version did', () => {
    fc.assert(
      fc.property(stored, now, (s, n) => {
        expect(tatView(s, n)).toStrictEqual(tatViewBefore(s, n));
      }),
      { numRuns: 5_000 },
    );
  });
});
