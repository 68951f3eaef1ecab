import type { Budget, Limits } from '../../config/governance-schema.js';
import type { ClientIdentity, Runtime } from '../runtime/resolve.js';

/** Whose budgets and limits a request is checked against: its key, the key's team, the key's customer — all of them. */
export interface Principal {
  scope: 'key' | 'team' | 'customer' | 'route';
  name: string;
  budgets: readonly Budget[];
  limits: Limits | undefined;
}

export function principalsOf(runtime: Runtime, client: ClientIdentity | undefined): Principal[] {
  if (client === undefined) return [];
  const auth = runtime.config.auth;
  const out: Principal[] = [{ scope: 'key', name: client.id, budgets: client.config.budgets, limits: client.config.limits }];
  const team = client.team === undefined ? undefined : auth?.teams[client.team];
  if (client.team !== undefined && team !== undefined) out.push({ scope: 'team', name: client.team, budgets: team.budgets, limits: team.limits });
  const customer = client.customer === undefined ? undefined : auth?.customers[client.customer];
  if (client.customer !== undefined && customer !== undefined) out.push({ scope: 'customer', name: client.customer, budgets: customer.budgets, limits: customer.limits });
  return out;
}

/** Whether any key, team or customer of the config has budgets (else the stage is not built). */
export function anyBudgets(runtime: Runtime): boolean {
  const auth = runtime.config.auth;
  if (auth === undefined) return false;
  return auth.keys.some((k) => k.budgets.length > 0) || Object.values(auth.teams).some((t) => t.budgets.length > 0) || Object.values(auth.customers).some((c) => c.budgets.length > 0);
}
