import type { Limits } from '../../config/governance-schema.js';
import { KeelError } from '../errors.js';
import type { RateScope, RateState } from '../state/index.js';
import { estimateInputTokens, outputCap, withOutputCap } from './estimate.js';
import { principalsOf, type Principal } from './principals.js';
import type { StageFactory } from './types.js';
import { duration, rateHeaders } from './rate-headers.js';

/**
 * RPM and TPM for the key, its team, its customer and the route (issue 15 §3), as GCRA in the
 * shared state (one atomic script across every scope, so a fleet of replicas holds the limit
 * itself, not the limit times the replica count). Tokens count what the request may use before
 * the call (input estimate + max output) and are reconciled to the real usage after it.
 */
interface Scoped {
  p: Principal;
  kind: 'requests' | 'tokens';
  limit: number;
  scope: RateScope;
}

function scopesOf(p: Principal, limits: Limits, tokens: number): Scoped[] {
  const out: Scoped[] = [];
  const burstMs = limits.burst_s * 1000;
  const base = `rate:${p.scope}:${p.name}`;
  if (limits.rpm !== undefined) out.push({ p, kind: 'requests', limit: limits.rpm, scope: { key: `${base}:rpm`, intervalMs: 60_000 / limits.rpm, burstMs, cost: 1 } });
  if (limits.tpm !== undefined) out.push({ p, kind: 'tokens', limit: limits.tpm, scope: { key: `${base}:tpm`, intervalMs: 60_000 / limits.tpm, burstMs, cost: tokens } });
  return out;
}

function anyLimits(principals: readonly Principal[]): boolean {
  return principals.some((p) => p.limits?.rpm !== undefined || p.limits?.tpm !== undefined);
}

export const limitsStage: StageFactory = (runtime, route) => {
  const routeLimits = runtime.config.routes[route.name]?.limits;
  const routeP: Principal = { scope: 'route', name: route.name, budgets: [], limits: routeLimits };
  const auth = runtime.config.auth;
  const configured = routeLimits !== undefined || auth?.keys.some((k) => k.limits !== undefined) === true || Object.values(auth?.teams ?? {}).some((t) => t.limits !== undefined) || Object.values(auth?.customers ?? {}).some((c) => c.limits !== undefined);
  if (!configured) return undefined;
  return {
    name: 'limits',
    policy: 'fail-closed',
    pre: async (sr) => {
      const { call } = sr;
      const principals = [...principalsOf(call.runtime, call.client), routeP];
      if (!anyLimits(principals)) return undefined;
      const cap = outputCap(call.runtime, route, sr.req);
      const tokens = estimateInputTokens(sr.req) + cap;
      const scoped = principals.flatMap((p) => (p.limits === undefined ? [] : scopesOf(p, p.limits, tokens)));
      if (scoped.some((s) => s.kind === 'tokens')) sr.req = withOutputCap(sr.req, cap);
      const result = await call.routing.state.rate(scoped.map((s) => s.scope));
      Object.assign(call.baseHeaders, rateHeaders(scoped.map((s, i) => ({ kind: s.kind, limit: s.limit, state: result.states[i] ?? FULL, intervalMs: s.scope.intervalMs }))));
      if (!result.ok) {
        const over = scoped[result.over];
        call.baseHeaders['retry-after-ms'] = String(Math.ceil(result.retryAfterMs));
        throw new KeelError(
          'KEEL_RATE_LIMITED',
          `Rate limit of the ${over?.p.scope ?? ''} \`${over?.p.name ?? ''}\` reached: ${over?.limit ?? 0} ${over?.kind ?? ''} per minute. Retry in ${duration(result.retryAfterMs)}.`,
          { retryAfterMs: Math.max(1, result.retryAfterMs) },
        );
      }
      const tpm = scoped.filter((s) => s.kind === 'tokens');
      if (tpm.length === 0) return undefined;
      return {
        post: async () => {
          const u = sr.rec.usage;
          const used = u === undefined ? 0 : u.inputTokens + u.outputTokens;
          await Promise.all(tpm.map((s) => call.routing.state.rateAdjust(s.scope.key, s.scope.intervalMs, used - tokens)));
        },
      };
    },
  };
};

const FULL: RateState = { remaining: 0, resetMs: 0 };
