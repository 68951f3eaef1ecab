import { requestCost } from '../telemetry/attributes.js';
import { budgetAdmitted, budgetExhausted, heldOf, reserveScopeOf } from './budget.js';
import { estimateInputTokens, maxCostUsd, outputCap, withOutputCap, worstPrice } from './estimate.js';
import type { ClientIdentity, Runtime } from '../runtime/resolve.js';
import { anyLimits, NO_STATE, limitsConfigured, rateLimited, rateScopesOf, routePrincipal, type Scoped } from './limits.js';
import { anyBudgets, principalsOf, type Principal } from './principals.js';
import { rateHeaders } from './rate-headers.js';
import type { StageFactory } from './types.js';

/**
 * Rate limits (limits.ts) and budgets (budget.ts) as one stage, so that a request costs one
 * state round trip before the call and one after it: the pre admits the request against every
 * RPM/TPM scope and every budget in one atomic state call (admit: all or nothing across both
 * kinds, so a request refused by a budget consumes no rate and one refused by a rate reserves
 * nothing), and the post reconciles TPM to the real usage and each reservation to the real cost
 * in one more (settle), in the background after the answer.
 */
export const quotaStage: StageFactory = (runtime, route) => {
  const routeP = routePrincipal(runtime, route);
  const limited = limitsConfigured(runtime, routeP);
  const budgeted = anyBudgets(runtime);
  if (!limited && !budgeted) return undefined;
  const price = budgeted ? worstPrice(route) : undefined;
  // The stage and the clients are per config snapshot: who a client's request is checked against is known once per client.
  const byClient = new WeakMap<ClientIdentity, Who>();
  const anonymous = whoOf(runtime, undefined, routeP, limited);
  const who = (client: ClientIdentity | undefined): Who => {
    if (client === undefined) return anonymous;
    let w = byClient.get(client);
    if (w === undefined) byClient.set(client, (w = whoOf(runtime, client, routeP, limited)));
    return w;
  };
  return {
    name: 'quota',
    // No state, no spending: a limit or a budget Keel cannot check is not one.
    policy: 'fail-closed',
    pre: async (sr) => {
      const { call } = sr;
      const now = Date.now();
      const { principals, limitedHere, rated } = who(call.client);
      const held = price === undefined ? [] : heldOf(principals, now);
      if (held.length === 0 && !limitedHere) return undefined;
      const cap = outputCap(call.runtime, route, sr.req);
      const input = estimateInputTokens(sr.req);
      const tokens = input + cap;
      const scoped: Scoped[] = [];
      for (const p of rated) if (p.limits !== undefined) rateScopesOf(p, p.limits, tokens, scoped);
      const tpm = scoped.filter((s) => s.kind === 'tokens');
      if (tpm.length > 0 || held.length > 0) sr.req = withOutputCap(sr.req, cap);
      const reserved = price === undefined ? 0 : maxCostUsd(input, cap, price);
      const result = await call.routing.state.admit(
        scoped.map((s) => s.scope),
        held.map((h) => reserveScopeOf(h, reserved)),
      );
      if (scoped.length > 0) rateHeaders(scoped.map((s, i) => ({ kind: s.kind, limit: s.limit, state: result.states[i] ?? NO_STATE, intervalMs: s.scope.intervalMs })), call.baseHeaders);
      if (!result.ok && result.refused === 'rate') {
        call.baseHeaders['retry-after-ms'] = String(Math.ceil(result.retryAfterMs));
        throw rateLimited(scoped[result.over], result.retryAfterMs);
      }
      if (!result.ok) throw budgetExhausted(call.baseHeaders, held[result.over], result.totals[result.over] ?? 0, reserved, now);
      if (held.length > 0) budgetAdmitted(call.baseHeaders, held, result.totals);
      if (tpm.length === 0 && held.length === 0) return undefined;
      return {
        post: async () => {
          const u = sr.rec.usage;
          const used = u === undefined ? 0 : u.inputTokens + u.outputTokens;
          const actual = held.length === 0 ? 0 : (requestCost(sr.rec) ?? 0);
          await call.routing.state.settle(
            tpm.map((s) => ({ key: s.scope.key, intervalMs: s.scope.intervalMs, delta: used - tokens })),
            held.map(({ w }) => ({ key: w.add, by: actual - reserved, ttlMs: w.ttlMs })),
          );
        },
      };
    },
  };
};

/** Whom a client's requests are checked against on this route: its principals, and those with rate limits (the route's own included). */
interface Who {
  principals: readonly Principal[];
  limitedHere: boolean;
  rated: readonly Principal[];
}

function whoOf(runtime: Runtime, client: ClientIdentity | undefined, routeP: Principal, limited: boolean): Who {
  const principals = principalsOf(runtime, client);
  const all = [...principals, routeP];
  const limitedHere = limited && anyLimits(all);
  return { principals, limitedHere, rated: limitedHere ? all : [] };
}
