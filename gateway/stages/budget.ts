import { KeelError } from '../errors.js';
import { requestCost } from '../telemetry/attributes.js';
import type { ReserveScope } from '../state/index.js';
import { estimateInputTokens, maxCostUsd, outputCap, withOutputCap, worstPrice } from './estimate.js';
import { budgetWindow, periodName, type BudgetWindow } from './periods.js';
import type { Budget } from '../../config/governance-schema.js';
import { budgetGauge } from '../telemetry/metrics.js';
import { anyBudgets, principalsOf, type Principal } from './principals.js';
import type { StageFactory } from './types.js';

/**
 * Budgets that never overspend (issue 15 §2). Before the call the request's maximum cost —
 * input estimated from the body, output at max_tokens or the route's cap, both at the dearest
 * price among the route's targets — is reserved atomically against every budget of its key,
 * team and customer (one state call: all or none). After it, each reservation is reconciled to
 * the real cost of the answering attempt (streams included, cached input at its price); a
 * failed request gives it all back. Concurrent requests cannot overspend: each one's worst case
 * is already counted while it runs.
 */
export const budgetStage: StageFactory = (runtime, route) => {
  if (!anyBudgets(runtime)) return undefined;
  const price = worstPrice(route);
  return {
    name: 'budget',
    // No state, no spending: a budget Keel cannot check is not a budget.
    policy: 'fail-closed',
    pre: async (sr) => {
      const { call } = sr;
      const now = Date.now();
      const held = principalsOf(call.runtime, call.client).flatMap((p) =>
        p.budgets.map((b) => ({ p, b, w: budgetWindow(`budget:${p.scope}:${p.name}:${b.period}:${b.window}`, b, now) })),
      );
      if (held.length === 0) return undefined;
      const cap = outputCap(call.runtime, route, sr.req);
      sr.req = withOutputCap(sr.req, cap);
      const reserved = maxCostUsd(estimateInputTokens(sr.req), cap, price);
      const scopes: ReserveScope[] = held.map(({ b, w }) => ({ add: w.add, window: w.window, amount: reserved, limit: b.usd, ttlMs: w.ttlMs }));
      const result = await call.routing.state.reserve(scopes);
      if (!result.ok) {
        const over = held[result.over];
        const spent = result.totals[result.over] ?? 0;
        const left = Math.max(0, (over?.b.usd ?? 0) - spent);
        if (over !== undefined) gaugeOf(over.p.scope, over.p.name, over.b, left);
        refuse(sr.call.baseHeaders, over?.w, left);
        throw new KeelError(
          'KEEL_BUDGET_EXHAUSTED',
          `The ${over?.p.scope ?? ''} \`${over?.p.name ?? ''}\` has $${left.toFixed(4)} left of its $${over?.b.usd ?? 0} ${over === undefined ? '' : periodName(over.b)} budget, less than this request may cost ($${reserved.toFixed(4)}: lower max_tokens or wait for the reset).`,
          { retryAfterMs: over === undefined ? undefined : Math.max(1000, over.w.resetAtMs - now) },
        );
      }
      held.forEach(({ p, b }, i) => gaugeOf(p.scope, p.name, b, b.usd - (result.totals[i] ?? 0)));
      const remaining = Math.min(...held.map(({ b }, i) => b.usd - (result.totals[i] ?? 0)));
      call.baseHeaders['x-keel-budget-remaining-usd'] = Math.max(0, remaining).toFixed(6);
      return {
        post: async () => {
          const actual = requestCost(sr.rec) ?? 0;
          await Promise.all(held.map(({ w }) => call.routing.state.incr(w.add, actual - reserved, w.ttlMs)));
        },
      };
    },
  };
};

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
