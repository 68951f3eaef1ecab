import type { BurnWindow, Severity } from './windows.js';
import { pairName } from './windows.js';

/** Events in one window: `total` counted by the SLI, `bad` of them failing it. */
export interface Counts {
  total: number;
  bad: number;
}

export interface PairResult {
  pair: string;
  severity: Severity;
  factor: number;
  longBurn: number;
  shortBurn: number;
  longEvents: number;
  /** Both windows burn faster than the factor, with enough events to judge. */
  breaching: boolean;
}

export interface Evaluation {
  events: number;
  bad: number;
  /** Good / total over the period; 1 with no events. */
  sli: number;
  /** 1 − SLO objective, as a ratio (0.001 for 99.9 %). */
  budget: number;
  /** Share of the period's budget spent (can exceed 1). */
  consumed: number;
  remaining: number;
  pairs: PairResult[];
  /** Severities with at least one breaching pair. */
  breaching: Severity[];
}

/** The error budget as a ratio: 1 − objective, rounded off float noise (99.9 → 0.001, not 0.00099999…). */
export function budgetOf(objectivePercent: number): number {
  return Number((1 - objectivePercent / 100).toPrecision(12));
}

/** Burn rate: the observed error ratio over the budget; 1 spends exactly the budget over the period. */
export function burnRate(c: Counts, budget: number): number {
  return c.total === 0 ? 0 : c.bad / c.total / budget;
}

/**
 * One SLO's state from its window counts (Occurrences budgeting: every event weighs
 * the same). `counts(ms)` returns the events of the last `ms` milliseconds.
 */
export function evaluate(objectivePercent: number, periodMs: number, windows: readonly BurnWindow[], counts: (ms: number) => Counts, minEvents: number): Evaluation {
  const budget = budgetOf(objectivePercent);
  const period = counts(periodMs);
  const consumed = period.total === 0 ? 0 : period.bad / (budget * period.total);
  const pairs = windows.map((w): PairResult => {
    const long = counts(w.longMs);
    const short = counts(w.shortMs);
    const longBurn = burnRate(long, budget);
    const shortBurn = burnRate(short, budget);
    return { pair: pairName(w), severity: w.severity, factor: w.factor, longBurn, shortBurn, longEvents: long.total, breaching: long.total >= minEvents && longBurn > w.factor && shortBurn > w.factor };
  });
  const breaching = [...new Set(pairs.filter((p) => p.breaching).map((p) => p.severity))];
  return { events: period.total, bad: period.bad, sli: period.total === 0 ? 1 : 1 - period.bad / period.total, budget, consumed, remaining: 1 - consumed, pairs, breaching };
}
