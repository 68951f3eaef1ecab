import type { Limits } from '../../config/governance-schema.js';
import { KeelError } from '../errors.js';
import type { RateScope, RateState } from '../state/index.js';
import type { ResolvedRoute, Runtime } from '../runtime/resolve.js';
import type { Principal } from './principals.js';
import { duration } from './rate-headers.js';

/**
 * Rate limits, the quota stage's half (quota.ts): RPM and TPM for the key, its team, its
 * customer and the route (issue 15 §3), as GCRA in the shared state (one atomic script across
 * every scope, so a fleet of replicas holds the limit itself, not the limit times the replica
 * count). Tokens count what the request may use before the call (input estimate + max output)
 * and are reconciled to the real usage after it.
 */
export interface Scoped {
  p: Principal;
  kind: 'requests' | 'tokens';
  limit: number;
  scope: RateScope;
}

// Principals live as long as their config snapshot (quota.ts keeps them per client): their state keys are built once, not per request.
const keysOf = new WeakMap<Principal, { rpm: string; tpm: string }>();

function stateKeys(p: Principal): { rpm: string; tpm: string } {
  let k = keysOf.get(p);
  if (k === undefined) {
    const base = `rate:${p.scope}:${p.name}`;
    k = { rpm: `${base}:rpm`, tpm: `${base}:tpm` };
    keysOf.set(p, k);
  }
  return k;
}

/** Appends `p`'s rate scopes for a request of `tokens` to `out` (default a new list). */
export function rateScopesOf(p: Principal, limits: Limits, tokens: number, out: Scoped[] = []): Scoped[] {
  const burstMs = limits.burst_s * 1000;
  const keys = stateKeys(p);
  if (limits.rpm !== undefined) out.push({ p, kind: 'requests', limit: limits.rpm, scope: { key: keys.rpm, intervalMs: 60_000 / limits.rpm, burstMs, cost: 1 } });
  if (limits.tpm !== undefined) out.push({ p, kind: 'tokens', limit: limits.tpm, scope: { key: keys.tpm, intervalMs: 60_000 / limits.tpm, burstMs, cost: tokens } });
  return out;
}

export function anyLimits(principals: readonly Principal[]): boolean {
  return principals.some((p) => p.limits?.rpm !== undefined || p.limits?.tpm !== undefined);
}

/** The route's own limits as a principal (it has no budgets). */
export function routePrincipal(runtime: Runtime, route: ResolvedRoute): Principal {
  return { scope: 'route', name: route.name, budgets: [], limits: runtime.config.routes[route.name]?.limits };
}

/** Whether the config sets limits anywhere that can touch this route (else no rate scopes are ever built). */
export function limitsConfigured(runtime: Runtime, routeP: Principal): boolean {
  const auth = runtime.config.auth;
  return routeP.limits !== undefined || auth?.keys.some((k) => k.limits !== undefined) === true || Object.values(auth?.teams ?? {}).some((t) => t.limits !== undefined) || Object.values(auth?.customers ?? {}).some((c) => c.limits !== undefined);
}

/** The refusal of a request over a rate scope (retry-after-ms is set by the caller's headers). */
export function rateLimited(over: Scoped | undefined, retryAfterMs: number): KeelError {
  return new KeelError(
    'KEEL_RATE_LIMITED',
    `Rate limit of the ${over?.p.scope ?? ''} \`${over?.p.name ?? ''}\` reached: ${over?.limit ?? 0} ${over?.kind ?? ''} per minute. Retry in ${duration(retryAfterMs)}.`,
    { retryAfterMs: Math.max(1, retryAfterMs) },
  );
}

/** A scope the state answered nothing for (never, for a well-formed reply): headers say nothing is left. */
export const NO_STATE: RateState = { remaining: 0, resetMs: 0 };
