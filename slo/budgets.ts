import type { AuthConfig, Budget } from '../config/governance-schema.js';

/**
 * Budget alerts (issue 15 §2), the pure half: configured budgets + what each key, team and
 * customer spent in the budget's current period + the thresholds already told → the crossings
 * to tell now. No I/O and no clock of its own, so takeovers and period changes are unit tested.
 *
 * The book of what fired is one entry per budget and threshold with `since`: the period's start
 * for calendar budgets (a new day or month re-arms them by itself), the firing time for rolling
 * ones (re-armed once the rolling spend falls back under the threshold). The leader publishes it
 * in the shared snapshot and a new leader adopts it, as SLO alerts are; `since` is also in each
 * delivery's idempotency key, so a repeat that slips through anyway is one a receiver can drop.
 */

export type BudgetScope = 'key' | 'team' | 'customer';
export const THRESHOLDS = [80, 100] as const;
export type Threshold = (typeof THRESHOLDS)[number];

export interface BudgetSpec extends Budget {
  scope: BudgetScope;
  name: string;
}

/** A threshold told for a budget's period (`since`: period start, or firing time when rolling). */
export interface BudgetFired {
  budget: string;
  threshold: Threshold;
  since: number;
}

export interface BudgetCrossing {
  spec: BudgetSpec;
  threshold: Threshold;
  spentUsd: number;
  /** Start of the period spend was counted over. */
  periodStart: number;
  /** Calendar: when the period resets; rolling: undefined (spend falls out continuously). */
  resetsAt: number | undefined;
  /** The book entry's `since`, part of the idempotency key. */
  since: number;
  at: number;
}

const DAY_MS = 86_400_000;

/** One budget's identity across evaluations and leaders: a reload that keeps it keeps its book. */
export function budgetId(b: BudgetSpec): string {
  return `${b.scope}|${b.name}|${b.period}|${b.window}`;
}

/** Every budget auth declares: per key, per team, per customer. */
export function budgetSpecs(auth: AuthConfig | undefined): BudgetSpec[] {
  if (auth === undefined) return [];
  const of = (scope: BudgetScope, name: string, budgets: readonly Budget[]) => budgets.map((b) => ({ ...b, scope, name }));
  return [
    ...auth.keys.filter((k) => !k.disabled).flatMap((k) => of('key', k.id, k.budgets)),
    ...Object.entries(auth.teams).flatMap(([name, t]) => of('team', name, t.budgets)),
    ...Object.entries(auth.customers).flatMap(([name, c]) => of('customer', name, c.budgets)),
  ];
}

/** The period a budget counts at `now`: [start, now]; calendar ones in UTC, with their reset. */
export function periodOf(b: Pick<Budget, 'period' | 'window'>, now: number): { start: number; resetsAt: number | undefined } {
  const d = new Date(now);
  if (b.window === 'rolling') return { start: now - (b.period === 'day' ? DAY_MS : 30 * DAY_MS), resetsAt: undefined };
  if (b.period === 'day') {
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    return { start, resetsAt: start + DAY_MS };
  }
  return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), resetsAt: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/** Spend rows as the store returns them: one per key, team and customer seen in a period. */
export interface SpendRow {
  key_id: string;
  team: string;
  customer: string;
  usd: number;
}

const COLUMN: Record<BudgetScope, keyof Omit<SpendRow, 'usd'>> = { key: 'key_id', team: 'team', customer: 'customer' };

/** What one key, team or customer spent, from rows grouped by all three. */
export function spendOf(rows: readonly SpendRow[], scope: BudgetScope, name: string): number {
  let usd = 0;
  for (const r of rows) if (r[COLUMN[scope]] === name) usd += Number(r.usd);
  return usd;
}

/**
 * One evaluation: for each budget, the thresholds its spend reached that the book has not told
 * for this period. Crossing 80 % and 100 % in the same evaluation tells 100 % only (both are
 * booked): one event, the more severe. Budgets no longer configured leave the book.
 */
export function evaluateBudgets(specs: readonly BudgetSpec[], spent: (b: BudgetSpec) => number, fired: readonly BudgetFired[], now: number): { crossings: BudgetCrossing[]; fired: BudgetFired[] } {
  const book = new Map(fired.map((f) => [`${f.budget}|${f.threshold}`, f]));
  const next: BudgetFired[] = [];
  const crossings: BudgetCrossing[] = [];
  for (const spec of specs) {
    const id = budgetId(spec);
    const { start, resetsAt } = periodOf(spec, now);
    const usd = spent(spec);
    let newest: BudgetCrossing | undefined;
    for (const threshold of THRESHOLDS) {
      const reached = usd >= (spec.usd * threshold) / 100;
      const prior = book.get(`${id}|${threshold}`);
      // Calendar: told in this period if booked with its start. Rolling: told until spend falls back under.
      const told = prior !== undefined && (spec.window === 'calendar' ? prior.since === start : reached);
      if (told) {
        next.push(prior);
        continue;
      }
      if (!reached) continue;
      const since = spec.window === 'calendar' ? start : now;
      next.push({ budget: id, threshold, since });
      newest = { spec, threshold, spentUsd: usd, periodStart: start, resetsAt, since, at: now };
    }
    if (newest !== undefined) crossings.push(newest);
  }
  return { crossings, fired: next };
}
