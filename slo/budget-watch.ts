import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows, queryRows, readTable } from '../store/index.js';
import { budgetSummary } from './budget-notify.js';
import { evaluateBudgets, periodOf, spendOf, type BudgetCrossing, type BudgetFired, type BudgetSpec, type SpendRow } from './budgets.js';

/**
 * Budget alerts, the I/O half: reads each budget period's spend per key, team and customer and
 * keeps the book of thresholds told (slo/budgets.ts). Run by the SLO loop on the leader only.
 *
 * Spend is read from sli_1m, not llm_requests: the same cost_usd and the same key/team/customer,
 * already summed per minute, so a 30-day budget does not scan 30 days of requests at every
 * evaluation (DESIGN.md §3: long windows read sli_1m). A rolling window starts at the minute its
 * start falls in, so it may count up to a minute more than its exact 24 h or 30 days.
 */
export class BudgetWatch {
  readonly #client: ClickHouseClient;
  readonly #budgets: () => readonly BudgetSpec[];
  #fired: BudgetFired[] = [];

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
    const starts = [...new Set(specs.map((b) => periodOf(b, now).start))];
    const spend = new Map<number, SpendRow[]>();
    // At most four periods (UTC day and month, rolling 24 h and 30 d), one query each.
    for (const start of starts) spend.set(start, await this.#spendSince(start, now));
    const { crossings, fired } = evaluateBudgets(specs, (b) => spendOf(spend.get(periodOf(b, now).start) ?? [], b.scope, b.name), this.#fired, now);
    this.#fired = fired;
    await this.#record(crossings);
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

  /** In alert_events beside SLO and canary events (the status page's and dashboards' log). */
  async #record(crossings: readonly BudgetCrossing[]): Promise<void> {
    if (crossings.length === 0) return;
    const rows = crossings.map((c) => ({
      ts: String(c.at / 1000),
      slo: `budget:${c.spec.scope}:${c.spec.name}`,
      kind: 'budget',
      transition: 'firing',
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

  /** Leadership lost: whoever leads now owns the book. */
  clear(): void {
    this.#fired = [];
  }
}
