import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import type { RequestFacts } from './facts.js';
import type { RouteView } from './plan.js';
import type { ResolvedRule, RuleAction, StatsLookup, TargetMatch } from './rules-compile.js';
import { extend } from '../objects.js';

export { compileRules, type ResolvedRule, type StatsLookup } from './rules-compile.js';

/**
 * Routing rules (README: Routing rules): before the strategy, each rule of the route whose
 * conditions all hold acts on what the rules before it left: `use` keeps only some targets,
 * `skip` drops some, `prefer` puts some first, `weights` re-weighs. A rule whose action would
 * leave nothing to route to is skipped, so the plan is never empty. Pure: the request's facts
 * and the targets' live statistics come in; the route to plan on and the decisions go out.
 */

/** One rule that matched the request: it acted, or it was skipped because it would have left no target. */
export interface RuleDecision {
  rule: string;
  skipped: boolean;
}

export interface RulesOutcome {
  view: RouteView;
  decisions: RuleDecision[];
}

interface Draft {
  targets: readonly ResolvedTarget[];
  fallbacks: readonly ResolvedTarget[];
  prefer: readonly TargetMatch[];
}

const not = (m: TargetMatch): TargetMatch => (t) => !m(t);

/** The draft after one action, or undefined when the action would leave no target to route to. */
function act(d: Draft, a: RuleAction): Draft | undefined {
  switch (a.kind) {
    case 'use': {
      // Fallbacks the rule names move up among the targets; the others stay fallbacks.
      const targets = [...d.targets.filter(a.match), ...d.fallbacks.filter(a.match)];
      return targets.length === 0 ? undefined : { targets, fallbacks: d.fallbacks.filter(not(a.match)), prefer: d.prefer };
    }
    case 'skip': {
      const next: Draft = { targets: d.targets.filter(not(a.match)), fallbacks: d.fallbacks.filter(not(a.match)), prefer: d.prefer };
      return next.targets.length + next.fallbacks.length === 0 ? undefined : next;
    }
    case 'prefer':
      return d.targets.some(a.match) || d.fallbacks.some(a.match) ? { targets: d.targets, fallbacks: d.fallbacks, prefer: [...d.prefer, a.match] } : undefined;
    case 'weights': {
      const weigh = (t: ResolvedTarget): ResolvedTarget => {
        const w = a.weightOf(t);
        return w === undefined || w === t.weight ? t : Object.freeze(extend(t, { weight: w }));
      };
      const targets = d.targets.map(weigh);
      // All weights zero would turn the weighted choice uniform: the opposite of what was asked.
      return targets.some((t) => t.weight > 0) ? { targets, fallbacks: d.fallbacks, prefer: d.prefer } : undefined;
    }
  }
}

export function evaluateRules(route: ResolvedRoute, rules: readonly ResolvedRule[], facts: RequestFacts, stats: StatsLookup): RulesOutcome {
  let draft: Draft = { targets: route.targets, fallbacks: route.fallbacks, prefer: [] };
  const decisions: RuleDecision[] = [];
  for (const rule of rules) {
    if (!rule.when.every((c) => c(facts, stats))) continue;
    const next = act(draft, rule.then);
    decisions.push({ rule: rule.name, skipped: next === undefined });
    if (next !== undefined) draft = next;
  }
  if (decisions.length === 0) return { view: route, decisions };
  return { view: extend(route, { targets: draft.targets, fallbacks: draft.fallbacks, prefer: draft.prefer }), decisions };
}

/** The decisions as `keel.route.rule` shows them: names in order, a skipped one as `name:skipped`. */
export function ruleTrail(decisions: readonly RuleDecision[]): string[] {
  return decisions.map((d) => (d.skipped ? `${d.rule}:skipped` : d.rule));
}
