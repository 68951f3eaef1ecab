import { describe, expect, it } from 'vitest';
import { durationMs } from '../../config/slo-schema.js';
import { burnRate, evaluate, type Counts } from '../../slo/math.js';
import { ladderThreshold } from '../../slo/sli-query.js';
import { pairName, scaledWindows, WORKBOOK_30D } from '../../slo/windows.js';

const H = 3_600_000;
const D = 24 * H;

describe('burn-rate math (SRE Workbook)', () => {
  it('burn rate is the error ratio over the budget', () => {
    expect(burnRate({ total: 1000, bad: 20 }, 0.001)).toBeCloseTo(20, 9);
    expect(burnRate({ total: 0, bad: 0 }, 0.001)).toBe(0);
  });

  it('a 99.9 % SLO over 30 days: budget, consumption and the page pair, by hand', () => {
    const table: Record<number, Counts> = {
      [30 * D]: { total: 100_000, bad: 50 },
      [1 * H]: { total: 1000, bad: 20 }, // burn 20 > 14.4
      [5 * 60_000]: { total: 100, bad: 2 }, // burn 20
      [6 * H]: { total: 6000, bad: 30 }, // burn 5 < 6
      [30 * 60_000]: { total: 500, bad: 5 }, // burn 10
      [1 * D]: { total: 24_000, bad: 60 }, // burn 2.5 < 3
      [2 * H]: { total: 2000, bad: 20 }, // burn 10
      [3 * D]: { total: 72_000, bad: 50 }, // burn 0.69 < 1
      [6 * H]: { total: 6000, bad: 30 },
    };
    const e = evaluate(99.9, 30 * D, WORKBOOK_30D, (ms) => table[ms] ?? { total: 0, bad: 0 }, 10);
    expect(e.budget).toBeCloseTo(0.001, 12);
    expect(e.sli).toBeCloseTo(0.9995, 12);
    expect(e.consumed).toBeCloseTo(0.5, 12);
    expect(e.remaining).toBeCloseTo(0.5, 12);
    expect(e.pairs.map((p) => [p.pair, p.severity, p.factor, Number(p.longBurn.toFixed(3)), p.breaching])).toEqual([
      ['1h/5m', 'page', 14.4, 20, true],
      ['6h/30m', 'page', 6, 5, false],
      ['1d/2h', 'ticket', 3, 2.5, false],
      ['3d/6h', 'ticket', 1, 0.694, false],
    ]);
    expect(e.breaching).toEqual(['page']);
  });

  it('too few events in the long window never breach (low-traffic guard)', () => {
    const e = evaluate(99, 30 * D, WORKBOOK_30D, () => ({ total: 5, bad: 5 }), 10);
    expect(e.pairs.every((p) => p.longBurn > 99 && !p.breaching)).toBe(true);
  });

  it('windows scale with the SLO period, rounded to the minute; factors stay', () => {
    expect(scaledWindows(30 * D).map(pairName)).toEqual(['1h/5m', '6h/30m', '1d/2h', '3d/6h']);
    expect(scaledWindows(28 * D).map(pairName)).toEqual(['56m/5m', '336m/28m', '1344m/112m', '4032m/336m']);
    expect(scaledWindows(1 * D).map(pairName)).toEqual(['2m/1m', '12m/1m', '48m/4m', '144m/12m']);
    expect(scaledWindows(28 * D).map((w) => w.factor)).toEqual([14.4, 6, 3, 1]);
  });

  it('durations and latency thresholds', () => {
    expect(durationMs('30d')).toBe(30 * D);
    expect(durationMs('90m')).toBe(90 * 60_000);
    expect(() => durationMs('3 days')).toThrow();
    expect(ladderThreshold(1500)).toBe(1500);
    expect(ladderThreshold(1200)).toBe(1000);
  });
});

describe('alert states', () => {
  it('pending for pending_s, then firing; resolved when the condition clears; pending that clears is silent', async () => {
    const { AlertBook } = await import('../../slo/alerts.js');
    const book = new AlertBook(() => 60_000);
    const t = (at: number, page: boolean) => book.update('s', { page, ticket: false, absent: false }, at).map((c) => `${c.alert.kind}:${c.transition}`);
    expect(t(0, true)).toEqual(['page:pending']);
    expect(t(30_000, true)).toEqual([]);
    expect(t(60_000, true)).toEqual(['page:firing']);
    expect(book.firing().map((a) => a.firedAt)).toEqual([60_000]);
    expect(t(90_000, false)).toEqual(['page:resolved']);
    expect(t(120_000, true)).toEqual(['page:pending']);
    expect(t(150_000, false)).toEqual([]);
    expect(book.firing()).toEqual([]);
  });
});
