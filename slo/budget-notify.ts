import type { BudgetCrossing } from './budgets.js';

/**
 * What a budget crossing says to each kind of receiver. Sent once per crossing (no re-sends):
 * Alertmanager gets an alert that ends when the period resets (a calendar budget) or a window
 * later (a rolling one), and deduplicates by its labels; webhooks get an idempotency key.
 */

const usd = (x: number) => `$${x.toFixed(2)}`;
const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

export function budgetLabels(c: BudgetCrossing): Record<string, string> {
  return {
    alertname: 'KeelBudget',
    scope: c.spec.scope,
    name: c.spec.name,
    period: c.spec.period,
    window: c.spec.window,
    threshold: String(c.threshold),
    severity: c.threshold >= 100 ? 'page' : 'ticket',
  };
}

function periodText(c: BudgetCrossing): string {
  if (c.spec.window === 'rolling') return `budget for the rolling ${c.spec.period === 'day' ? '24 h' : '30 days'}`;
  return `${c.spec.period === 'day' ? 'daily' : 'monthly'} budget (UTC ${c.spec.period})`;
}

/** Who, how much of what budget, and when it resets: the one line webhooks, Slack and Alertmanager's summary share. */
export function budgetSummary(c: BudgetCrossing): string {
  const pct = c.spec.usd > 0 ? Math.floor((c.spentUsd / c.spec.usd) * 100) : 100;
  const resets = c.resetsAt === undefined ? 'spend older than the window falls out continuously' : `resets ${iso(c.resetsAt)}`;
  const what = c.threshold >= 100 ? 'has used up' : `has used ${c.threshold} % of`;
  return `Budget: ${c.spec.scope} ${c.spec.name} ${what} its ${usd(c.spec.usd)} ${periodText(c)}: ${usd(c.spentUsd)} spent (${pct} %) since ${iso(c.periodStart)}; ${resets}`;
}

/** The same key for the same crossing from any leader: a receiver drops what it has seen. */
export function budgetIdempotencyKey(c: BudgetCrossing): string {
  return `budget|${c.spec.scope}|${c.spec.name}|${c.spec.period}-${c.spec.window}|${iso(c.since)}|${c.threshold}`;
}

export function budgetAlertmanagerBody(c: BudgetCrossing, generatorURL: string): unknown[] {
  const windowMs = c.spec.period === 'day' ? 86_400_000 : 30 * 86_400_000;
  const endsAt = c.resetsAt ?? c.at + windowMs;
  const startsAt = Math.min(c.at, Date.now());
  return [{ labels: budgetLabels(c), annotations: { summary: budgetSummary(c) }, startsAt: iso(startsAt), endsAt: iso(Math.max(endsAt, startsAt)), generatorURL }];
}

export function budgetWebhookBody(c: BudgetCrossing): unknown {
  return {
    status: 'firing',
    kind: 'budget',
    labels: budgetLabels(c),
    summary: budgetSummary(c),
    scope: c.spec.scope,
    name: c.spec.name,
    threshold: c.threshold,
    spentUsd: c.spentUsd,
    budgetUsd: c.spec.usd,
    period: c.spec.period,
    window: c.spec.window,
    periodStart: iso(c.periodStart),
    resetsAt: c.resetsAt === undefined ? null : iso(c.resetsAt),
    at: iso(c.at),
  };
}
