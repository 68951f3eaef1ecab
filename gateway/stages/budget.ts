import type { Budget } from '../../config/governance-schema.js';
import { KeelError } from '../errors.js';
import type { ReserveScope } from '../state/index.js';
import { budgetGauge } from '../telemetry/metrics.js';
import { budgetWindowNow, periodName, type BudgetWindow } from './periods.js';
import type { Principal } from './principals.js';

/**
 * Budgets that never overspend (issue 15 §2), the quota stage's other half (quota.ts). Before
 * the call the request's maximum cost — input estimated from the body, output at max_tokens or
 * the route's cap, both at the dearest price among the route's targets — is reserved atomically
 * against every budget of its key, team and customer (all or none). After it, each reservation
 * is reconciled to the real cost of the answering attempt (streams included, cached input at its
 * price); a failed request gives it all back. Concurrent requests cannot overspend: each one's
 * worst case is already counted while it runs.
 */
export interface Held {
  p: Principal;
  b: Budget;
  w: BudgetWindow;
}

// Principals are kept per client for the config snapshot (quota.ts): their budgets' state-key prefixes are built once, not per request.
const prefixes = new WeakMap<Principal, readonly string[]>();

function prefixesOf(p: Principal): readonly string[] {
  let out = prefixes.get(p);
  if (out === undefined) prefixes.set(p, (out = p.budgets.map((b) => `budget:${p.scope}:${p.name}:${b.period}:${b.window}`)));
  return out;
}

export function heldOf(principals: readonly Principal[], now: number): Held[] {
  const out: Held[] = [];
  for (const p of principals) {
    const names = prefixesOf(p);
    p.budgets.forEach((b, i) => out.push({ p, b, w: budgetWindowNow(names[i] ?? '', b, now) }));
  }
  return out;
}

export const reserveScopeOf = ({ b, w }: Held, amount: number): ReserveScope => ({ add: w.add, window: w.window, amount, limit: b.usd, ttlMs: w.ttlMs });

/** A reservation refused by `over` (spent: its window's total as found): gauge, headers, the error. */
export function budgetExhausted(headers: Record<string, string>, over: Held | undefined, spent: number, reserved: number, now: number): KeelError {
  const left = Math.max(0, (over?.b.usd ?? 0) - spent);
  if (over !== undefined) gaugeOf(over.p.scope, over.p.name, over.b, left);
  refuse(headers, over?.w, left);
  return new KeelError(
    'KEEL_BUDGET_EXHAUSTED',
    `The ${over?.p.scope ?? ''} \`${over?.p.name ?? ''}\` has $${left.toFixed(4)} left of its $${over?.b.usd ?? 0} ${over === undefined ? '' : periodName(over.b)} budget, less than this request may cost ($${reserved.toFixed(4)}: lower max_tokens or wait for the reset).`,
    { retryAfterMs: over === undefined ? undefined : Math.max(1000, over.w.resetAtMs - now) },
  );
}

/** An admitted reservation: every budget's gauge, and the tightest remaining on the answer. */
export function budgetAdmitted(headers: Record<string, string>, held: readonly Held[], totals: readonly number[]): void {
  held.forEach(({ p, b }, i) => gaugeOf(p.scope, p.name, b, b.usd - (totals[i] ?? 0)));
  const remaining = Math.min(...held.map(({ b }, i) => b.usd - (totals[i] ?? 0)));
  headers['x-keel-budget-remaining-usd'] = Math.max(0, remaining).toFixed(6);
}

/** keel_budget_remaining_usd as this replica last counted it (reservations in flight included). */
function gaugeOf(scope: Principal['scope'], name: string, b: Budget, left: number): void {
  if (scope !== 'route') budgetGauge.set(scope, name, b.window === 'calendar' ? b.period : `${b.period}-rolling`, Math.max(0, left));
}

/** Headers a budget refusal carries: what is left, and an SDK's cue not to retry before the reset. */
function refuse(headers: Record<string, string>, w: BudgetWindow | undefined, left: number): void {
  headers['x-keel-budget-remaining-usd'] = left.toFixed(6);
  if (w !== undefined) headers['x-keel-budget-reset'] = new Date(w.resetAtMs).toISOString();
  // The openai and anthropic SDKs retry a 429 unless told not to; a budget does not come back in seconds.
  headers['x-should-retry'] = 'false';
}
