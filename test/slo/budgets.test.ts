import { describe, expect, it } from 'vitest';
import { authSchema } from '../../config/governance-schema.js';
import { budgetAlertmanagerBody, budgetIdempotencyKey, budgetLabels, budgetSummary } from '../../slo/budget-notify.js';
import { budgetSpecs, evaluateBudgets, periodOf, spendOf, type BudgetFired, type BudgetSpec } from '../../slo/budgets.js';

const at = (iso: string) => Date.parse(iso);
const spec = (over: Partial<BudgetSpec> = {}): BudgetSpec => ({ scope: 'key', name: 'app', usd: 10, period: 'day', window: 'calendar', ...over });

/** Runs evaluations in order with the spend given for each, carrying the book: the thresholds told at each step. */
function run(specs: BudgetSpec[], steps: [string, number][], start: BudgetFired[] = []): { told: string[][]; fired: BudgetFired[] } {
  let fired = start;
  const told = steps.map(([when, usd]) => {
    const r = evaluateBudgets(specs, () => usd, fired, at(when));
    fired = r.fired;
    return r.crossings.map((c) => `${c.spec.scope}:${c.spec.name}:${c.threshold}`);
  });
  return { told, fired };
}

describe('budget periods (UTC)', () => {
  it('calendar day and month start at 00:00 UTC and on the 1st, and say when they reset; rolling ones reach back 24 h or 30 days', () => {
    const now = at('2026-12-31T23:30:00.000Z');
    expect(periodOf({ period: 'day', window: 'calendar' }, now)).toEqual({ start: at('2026-12-31T00:00:00Z'), resetsAt: at('2027-01-01T00:00:00Z') });
    expect(periodOf({ period: 'month', window: 'calendar' }, now)).toEqual({ start: at('2026-12-01T00:00:00Z'), resetsAt: at('2027-01-01T00:00:00Z') });
    expect(periodOf({ period: 'day', window: 'rolling' }, now)).toEqual({ start: at('2026-12-30T23:30:00Z'), resetsAt: undefined });
    expect(periodOf({ period: 'month', window: 'rolling' }, now)).toEqual({ start: at('2026-12-01T23:30:00Z'), resetsAt: undefined });
  });

  it('every budget auth declares, by key, team and customer (a disabled key has none)', () => {
    const auth = authSchema.parse({
      keys: [
        { id: 'app', key: 'app-key-0123456789abcdef0123', customer: 'acme', budgets: [{ usd: 5, period: 'day' }] },
        { id: 'off', key: 'off-key-0123456789abcdef0123', disabled: true, budgets: [{ usd: 5 }] },
      ],
      teams: { search: { budgets: [{ usd: 100, window: 'rolling' }] } },
      customers: { acme: { budgets: [{ usd: 1000 }] } },
    });
    expect(budgetSpecs(auth)).toEqual([
      { scope: 'key', name: 'app', usd: 5, period: 'day', window: 'calendar' },
      { scope: 'team', name: 'search', usd: 100, period: 'month', window: 'rolling' },
      { scope: 'customer', name: 'acme', usd: 1000, period: 'month', window: 'calendar' },
    ]);
    expect(budgetSpecs(undefined)).toEqual([]);
  });

  it('spend per scope from rows grouped by key, team and customer', () => {
    const rows = [
      { key_id: 'a', team: 't', customer: 'c', usd: 1 },
      { key_id: 'b', team: 't', customer: 'd', usd: 2 },
    ];
    expect([spendOf(rows, 'key', 'a'), spendOf(rows, 'team', 't'), spendOf(rows, 'customer', 'd'), spendOf(rows, 'customer', 'x')]).toEqual([1, 3, 2, 0]);
  });
});

describe('budget crossings', () => {
  it('80 % then 100 %, each told once in the period; nothing below 80 %; a new UTC day re-arms both', () => {
    const { told } = run([spec()], [
      ['2026-12-01T08:00:00Z', 7.99],
      ['2026-12-01T09:00:00Z', 8],
      ['2026-12-01T10:00:00Z', 9],
      ['2026-12-01T11:00:00Z', 10.5],
      ['2026-12-01T12:00:00Z', 12],
      ['2026-12-02T00:01:00Z', 0.5],
      ['2026-12-02T06:00:00Z', 8.5],
    ]);
    expect(told).toEqual([[], ['key:app:80'], [], ['key:app:100'], [], [], ['key:app:80']]);
  });

  it('jumping past both at once tells 100 % only (one event), and 80 % is not told later in the period', () => {
    const { told, fired } = run([spec({ period: 'month' })], [
      ['2026-12-03T00:00:00Z', 11],
      ['2026-12-04T00:00:00Z', 11],
    ]);
    expect(told).toEqual([['key:app:100'], []]);
    expect(fired.map((f) => f.threshold)).toEqual([80, 100]);
  });

  it('a book adopted from another leader is honoured: nothing told twice', () => {
    const first = run([spec()], [['2026-12-01T09:00:00Z', 8.5]]);
    expect(first.told).toEqual([['key:app:80']]);
    const second = run([spec()], [['2026-12-01T09:00:30Z', 8.6], ['2026-12-01T10:00:00Z', 10]], first.fired);
    expect(second.told).toEqual([[], ['key:app:100']]);
  });

  it('rolling: told once while the spend stays above, re-armed once it falls back under', () => {
    const { told } = run([spec({ window: 'rolling' })], [
      ['2026-12-01T09:00:00Z', 8.5],
      ['2026-12-01T10:00:00Z', 9],
      ['2026-12-02T09:30:00Z', 3],
      ['2026-12-02T10:00:00Z', 8.2],
    ]);
    expect(told).toEqual([['key:app:80'], [], [], ['key:app:80']]);
  });

  it('budgets are told apart (scope, name, period), and a budget no longer configured leaves the book', () => {
    const specs = [spec(), spec({ scope: 'team', name: 'search' }), spec({ period: 'month', usd: 100 })];
    const r = evaluateBudgets(specs, (b) => (b.scope === 'team' ? 9 : 8), [], at('2026-12-01T09:00:00Z'));
    expect(r.crossings.map((c) => `${c.spec.scope}:${c.spec.name}:${c.spec.period}:${c.threshold}`)).toEqual(['key:app:day:80', 'team:search:day:80']);
    expect(evaluateBudgets([spec()], () => 8, r.fired, at('2026-12-01T09:01:00Z')).fired.map((f) => f.budget)).toEqual(['key|app|day|calendar']);
  });
});

describe('what a budget crossing says', () => {
  const c = { spec: spec({ scope: 'customer', name: 'acme', usd: 500, period: 'month' }), threshold: 80 as const, spentUsd: 401.5, periodStart: at('2026-12-01T00:00:00Z'), resetsAt: at('2027-01-01T00:00:00Z'), since: at('2026-12-01T00:00:00Z'), at: at('2026-12-20T10:00:00Z') };

  it('labels for Alertmanager (ticket at 80 %, page at 100 %), the text says who, how much of what, and when it resets', () => {
    expect(budgetLabels(c)).toEqual({ alertname: 'KeelBudget', scope: 'customer', name: 'acme', period: 'month', window: 'calendar', threshold: '80', severity: 'ticket' });
    expect(budgetLabels({ ...c, threshold: 100 }).severity).toBe('page');
    expect(budgetSummary(c)).toBe('Budget: customer acme has used 80 % of its $500.00 monthly budget (UTC month): $401.50 spent (80 %) since 2026-12-01T00:00:00Z; resets 2027-01-01T00:00:00Z');
    expect(budgetIdempotencyKey(c)).toBe('budget|customer|acme|month-calendar|2026-12-01T00:00:00Z|80');
  });

  it('the Alertmanager alert ends when the period resets', () => {
    const [alert] = budgetAlertmanagerBody(c, 'http://keel/') as { endsAt: string; labels: Record<string, string> }[];
    expect(alert?.endsAt).toBe('2027-01-01T00:00:00Z');
  });
});
