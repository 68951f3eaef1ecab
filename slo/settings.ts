import { durationMs, type AdaptiveConfig, type AlertingConfig, type SloSpec } from '../config/slo-schema.js';
import type { KeelConfig } from '../config/schema.js';
import { budgetSpecs, type BudgetSpec } from './budgets.js';
import type { CanarySpec } from './canary.js';
import { effectiveSlos } from './defaults.js';
import { budgetOf } from './math.js';

/** A route with no availability SLO of its own is judged against 99.5 % (the default SLO's objective). */
const DEFAULT_BUDGET = 0.005;

/**
 * What the SLO engine reads from one config snapshot (`slo:` and `routes:`), derived once per
 * snapshot. The loop and the weights publisher read it through a getter at each evaluation, so a
 * config reload takes effect on the next one.
 */
export interface SloSettings {
  /** The config version these came from (shown on /api/status). */
  version: number;
  specs: readonly SloSpec[];
  alerting: AlertingConfig;
  adaptive: AdaptiveConfig;
  /** Routes with `adaptive: true`. */
  adaptiveRoutes: readonly string[];
  /** The availability error budget of a route. */
  budget: (route: string) => number;
  canaries: readonly CanarySpec[];
  /** Budgets of keys, teams and customers (auth), for budget alerts. */
  budgets: readonly BudgetSpec[];
  /** How many routes the config declares (for the reload line). */
  routes: number;
}

export function sloSettings(config: KeelConfig, version: number): SloSettings {
  const specs = effectiveSlos(config.slo, Object.keys(config.routes));
  const budgets = new Map(specs.filter((s) => s.sli === 'availability' && s.scope.route !== undefined).map((s) => [s.scope.route ?? '', budgetOf(s.objective)]));
  const canaries = Object.entries(config.routes).flatMap(([route, r]) =>
    r.targets.flatMap((t) => (t.canary === undefined ? [] : [{ key: `${route}|${t.provider}|${t.model}`, steps: t.canary.steps, stepMs: durationMs(t.canary.step_duration), gate: t.canary.gate, minAttempts: t.canary.min_attempts }])),
  );
  return {
    version,
    specs,
    alerting: config.slo.alerting,
    adaptive: config.slo.adaptive,
    adaptiveRoutes: Object.entries(config.routes).filter(([, r]) => r.adaptive).map(([name]) => name),
    budget: (route) => budgets.get(route) ?? DEFAULT_BUDGET,
    canaries,
    budgets: budgetSpecs(config.auth),
    routes: Object.keys(config.routes).length,
  };
}

/** One line for the log: what a reload put in force. */
export function describeSettings(s: SloSettings): string {
  const n = (count: number, one: string) => `${count} ${one}${count === 1 ? '' : 's'}`;
  return `slo: ${n(s.specs.length, 'objective')}, ${n(s.routes, 'route')}, ${n(s.alerting.receivers.length, 'receiver')}`;
}

/** The settings of whatever snapshot `source` holds now, derived once per snapshot. */
export function liveSloSettings(source: { readonly current: { readonly config: KeelConfig; readonly version: number } }): () => SloSettings {
  const cache = new WeakMap<object, SloSettings>();
  return () => {
    const snap = source.current;
    let s = cache.get(snap);
    if (s === undefined) {
      s = sloSettings(snap.config, snap.version);
      cache.set(snap, s);
    }
    return s;
  };
}
