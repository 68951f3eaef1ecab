import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows, queryRows, readTable } from '../store/index.js';
import { budgetSummary } from './budget-notify.js';
import { budgetId, evaluateBudgets, periodOf, spendOf, THRESHOLDS, type BudgetCrossing, type BudgetFired, type BudgetSpec, type SpendRow } from './budgets.js';

/**
 * Budget alerts, the I/O half: reads each budget period's spend per key, team and customer and
 * keeps the book of thresholds told (slo/budgets.ts). Run by the SLO loop on the leader only.
 *
 * Spend is read from sli_1m, not llm_requests: the same cost_usd and the same key/team/customer,
 * already summed per minute, so a 30-day budget does not scan 30 days of requests at every
 * evaluation (DESIGN.md §3: long windows read sli_1m). A rolling window starts at the minute its
 * start falls in, so it may count up to a minute more than its exact 24 h or 30 days.
 *
 * The book survives a takeover through the shared snapshot (adopt), and a restart through
 * alert_events: the first evaluation this engine leads rebuilds it from the crossings recorded
 * there in the budgets' current periods, so a collector restarted mid-month does not tell 80 %
 * again. Each row names its budget and threshold (`slo` = budget:<period>-<window>:<scope>:<name>,
 * `transition` = <threshold>%).
 */
export class BudgetWatch {
  readonly #client: ClickHouseClient;
  readonly #budgets: () => readonly BudgetSpec[];
  #fired: BudgetFired[] = [];
  /** Whether the book has been rebuilt from alert_events since this engine began leading. */
  #recovered = false;

  constructor(client: ClickHouseClient, budgets: () => readonly BudgetSpec[]) {
    this.#client = client;
    this.#budgets = budgets;
  }

  /** The crossings to tell now; the book moves only when the spend could be read. */
  async evaluate(now: number): Promise<BudgetCrossing[]> {
    const specs = this.#budgets();
    if (specs.length === 0) {
      this.#fired = [];
      return [];
    }
    if (!this.#recovered) {
      this.adopt(await this.#recorded(specs, now));
      this.#recovered = true;
    }
    const starts = [...new Set(specs.map((b) => periodOf(b, now).start))];
    const spend = new Map<number, SpendRow[]>();
    // At most four periods (UTC day and month, rolling 24 h and 30 d), one query each.
    for (const start of starts) spend.set(start, await this.#spendSince(start, now));
    const { crossings, fired } = evaluateBudgets(specs, (b) => spendOf(spend.get(periodOf(b, now).start) ?? [], b.scope, b.name), this.#fired, now);
    // Recorded before the book moves: a failed insert leaves the crossings to the next tick, not untold.
    await this.#record(crossings);
    this.#fired = fired;
    return crossings;
  }

  async #spendSince(start: number, now: number): Promise<SpendRow[]> {
    const ms = (x: number) => `fromUnixTimestamp64Milli(toInt64(${Math.floor(x)}))`;
    return queryRows<SpendRow>(
      this.#client,
      `SELECT key_id, team, customer, sum(cost_usd) AS usd FROM ${readTable(this.#client, 'sli_1m')}
       WHERE minute >= toStartOfMinute(${ms(start)}) AND minute <= ${ms(now)} GROUP BY key_id, team, customer`,
    );
  }

  /** Crossings recorded in the budgets' current periods, as book entries. */
  async #recorded(specs: readonly BudgetSpec[], now: number): Promise<BudgetFired[]> {
    const earliest = Math.min(...specs.map((b) => periodOf(b, now).start));
    const rows = await queryRows<{ slo: string; transition: string; at: number }>(
      this.#client,
      `SELECT slo, transition, toUnixTimestamp64Milli(ts) AS at FROM ${readTable(this.#client, 'alert_events')}
       WHERE kind = 'budget' AND ts >= fromUnixTimestamp64Milli(toInt64(${Math.floor(earliest)})) ORDER BY ts`,
    );
    const byRow = new Map(specs.map((b) => [eventName(b), b]));
    const out: BudgetFired[] = [];
    for (const r of rows) {
      const spec = byRow.get(r.slo);
      const threshold = THRESHOLDS.find((t) => r.transition === `${t}%`);
      const at = Number(r.at);
      if (spec === undefined || threshold === undefined || at < periodOf(spec, now).start) continue;
      // A crossing of the higher threshold also booked the lower one (evaluateBudgets tells only the higher).
      for (const t of THRESHOLDS.filter((x) => x <= threshold)) out.push({ budget: budgetId(spec), threshold: t, since: spec.window === 'calendar' ? periodOf(spec, at).start : at });
    }
    return out;
  }

  /** In alert_events beside SLO and canary events (the status page's and dashboards' log). */
  async #record(crossings: readonly BudgetCrossing[]): Promise<void> {
    if (crossings.length === 0) return;
    const rows = crossings.map((c) => ({
      ts: String(c.at / 1000),
      slo: eventName(c.spec),
      kind: 'budget',
      transition: `${c.threshold}%`,
      summary: budgetSummary(c),
      budget_remaining: 1 - c.spentUsd / c.spec.usd,
    }));
    await insertRows(this.#client, 'alert_events', rows);
  }

  /** The book as the leader publishes it for a successor (SharedSnapshot.budgets). */
  fired(): BudgetFired[] {
    return this.#fired.map((f) => ({ ...f }));
  }

  /** Takes over what the previous leader had told, so no threshold is told twice in a period. */
  adopt(fired: readonly BudgetFired[]): void {
    const known = new Set(this.#fired.map((f) => `${f.budget}|${f.threshold}`));
    for (const f of fired) if (!known.has(`${f.budget}|${f.threshold}`)) this.#fired.push({ ...f });
  }

  /** Leadership lost: whoever leads now owns the book (and leading again rebuilds it). */
  clear(): void {
    this.#fired = [];
    this.#recovered = false;
  }
}

/** A budget's name in alert_events: the fixed fields first, so a name with ':' in it still parses. */
function eventName(b: BudgetSpec): string {
  return `budget:${b.period}-${b.window}:${b.scope}:${b.name}`;
}
