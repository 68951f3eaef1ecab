import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import type { HealthRegistry } from './health.js';
import { pickWeighted } from './weighted.js';
import { weightKey, type WeightsSnapshot } from './weights.js';
import { extend } from '../objects.js';

export interface PlanContext {
  health: HealthRegistry;
  weights: WeightsSnapshot;
  random: () => number;
}

/**
 * A route as one request's routing rules left it (rules.ts): maybe fewer targets, other
 * weights, and `prefer` steps applied to the plan in order (the last step's targets first).
 */
export type RouteView = ResolvedRoute & { readonly prefer?: readonly ((t: ResolvedTarget) => boolean)[] };

/** With the latency strategy, this share of requests tries another target first, so a recovered one is noticed. */
const EXPLORE = 0.1;

function weightedOrder(route: ResolvedRoute, items: readonly ResolvedTarget[], p: PlanContext): ResolvedTarget[] {
  const left = [...items];
  const out: ResolvedTarget[] = [];
  // Only routes that opted in follow the SLO engine's multipliers.
  const factor = (t: ResolvedTarget) => (route.adaptive ? (p.weights.multipliers.get(weightKey(route.name, t.provider.name, t.model)) ?? 1) : 1);
  const weight = (t: ResolvedTarget) => t.weight * factor(t);
  while (left.length > 0) {
    const next = pickWeighted(left, weight, p.random);
    if (next === undefined) break;
    out.push(next);
    left.splice(left.indexOf(next), 1);
  }
  return out;
}

function latencyOrder(route: ResolvedRoute, p: PlanContext): ResolvedTarget[] {
  const ewma = (t: ResolvedTarget) => p.health.latency(t).ttftEwma;
  const unknown = route.targets.filter((t) => ewma(t) === undefined);
  const known = route.targets.filter((t) => ewma(t) !== undefined).sort((a, b) => (ewma(a) ?? 0) - (ewma(b) ?? 0));
  const order = [...unknown, ...known];
  if (order.length > 1 && p.random() < EXPLORE) {
    const i = 1 + Math.floor(p.random() * (order.length - 1));
    const [explored] = order.splice(i, 1);
    if (explored !== undefined) order.unshift(explored);
  }
  return order;
}

const blended = (t: ResolvedTarget) => (t.price === undefined ? Number.POSITIVE_INFINITY : t.price.input + t.price.output);

/**
 * The order in which one request tries its route's targets: the strategy's order
 * of `targets`, then `fallbacks` as listed. Health (open breakers) is applied as
 * the attempts run, not here, so a half-open probe slot is only taken when used.
 */
export function planTargets(route: RouteView, p: PlanContext): ResolvedTarget[] {
  const canary = route.targets.find((t) => t.canaryFirstStep !== undefined);
  let plan = canary !== undefined ? canaryPlan(route, canary, p) : strategyPlan(route, p);
  // A stable partition keeps the strategy's order within the preferred and within the rest.
  for (const preferred of route.prefer ?? []) plan = [...plan.filter(preferred), ...plan.filter((t) => !preferred(t))];
  return plan;
}

/**
 * A canary takes its current share of requests first (the SLO engine publishes it; the
 * first step until then); other requests go to the baseline, with the canary as a last
 * resort. A rolled-back canary (share 0) gets nothing.
 */
function canaryPlan(route: ResolvedRoute, canary: ResolvedTarget, p: PlanContext): ResolvedTarget[] {
  const share = p.weights.canaries.get(weightKey(route.name, canary.provider.name, canary.model)) ?? canary.canaryFirstStep ?? 0;
  const baseline = strategyPlan(extend(route, { targets: route.targets.filter((t) => t !== canary) }), p);
  if (share <= 0) return baseline;
  return p.random() * 100 < share ? [canary, ...baseline] : [...baseline, canary];
}

function strategyPlan(route: ResolvedRoute, p: PlanContext): ResolvedTarget[] {
  let primary: ResolvedTarget[];
  switch (route.strategy) {
    case 'weighted':
      primary = weightedOrder(route, route.targets, p);
      break;
    case 'priority':
      primary = weightedOrder(route, route.targets, p).sort((a, b) => a.priority - b.priority);
      break;
    case 'latency':
      primary = latencyOrder(route, p);
      break;
    case 'cost':
      primary = weightedOrder(route, route.targets, p).sort((a, b) => blended(a) - blended(b));
      break;
  }
  return [...primary, ...route.fallbacks];
}
