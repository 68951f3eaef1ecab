import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Budget } from '../../config/governance-schema.js';
import { budgetWindow, budgetWindowNow } from '../../gateway/stages/periods.js';

const budget = fc.record({ usd: fc.constant(10), period: fc.constantFrom<'day' | 'month'>('day', 'month'), window: fc.constantFrom<'calendar' | 'rolling'>('calendar', 'rolling') }) as fc.Arbitrary<Budget>;
// Steps from a few ms to a few days, across day, month and year ends (2026-12-31 included).
const START = Date.UTC(2026, 11, 30, 22);

describe('budgetWindowNow (the per-bucket memo)', () => {
  it('answers exactly what budgetWindow computes, at any sequence of times, across period and bucket ends (property)', () => {
    let n = 0;
    fc.assert(
      fc.property(budget, fc.array(fc.integer({ min: 0, max: 3 * 86_400_000 }), { minLength: 1, maxLength: 40 }), (b, steps) => {
        const prefix = `budget:key:k${n++}:${b.period}:${b.window}`;
        let now = START;
        for (const step of steps) {
          now += step;
          expect(budgetWindowNow(prefix, b, now)).toEqual(budgetWindow(prefix, b, now));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('moves to the next key at the period boundary, not a millisecond late', () => {
    const b = { usd: 10, period: 'day', window: 'calendar' } as Budget;
    const midnight = Date.UTC(2027, 0, 1);
    expect(budgetWindowNow('p', b, midnight - 1).add).toBe('p:d:2026-12-31');
    expect(budgetWindowNow('p', b, midnight).add).toBe('p:d:2027-01-01');
  });
});
