import { globRegExp } from '../../config/globs.js';
import { refMatches, type RuleConfig, type StringMatchConfig } from '../../config/rules-schema.js';
import type { ResolvedTarget } from '../runtime/resolve.js';
import type { RequestFacts } from './facts.js';
import { p95 } from './hedge.js';
import type { TargetStats } from './window.js';

/**
 * A route's rules compiled once per config snapshot (resolve.ts): regexes and globs built,
 * refs turned into target predicates, a target condition's target found. Evaluation
 * (rules.ts) then only calls these.
 */

/**
 * A value longer than this never matches a regex condition (exact and `in` matches take any
 * length). With the pattern limits of config/rules-schema.ts it bounds one test to ~1 ms on a
 * value crafted to backtrack; header tags, user ids and metadata labels are far shorter.
 */
export const REGEX_VALUE_CHARS = 128;

export type StatsLookup = (t: ResolvedTarget) => TargetStats;
export type TargetMatch = (t: ResolvedTarget) => boolean;
export type Condition = (facts: RequestFacts, stats: StatsLookup) => boolean;

export type RuleAction =
  | { kind: 'use' | 'skip' | 'prefer'; match: TargetMatch }
  | { kind: 'weights'; weightOf: (t: ResolvedTarget) => number | undefined };

export interface ResolvedRule {
  name: string;
  /** All must hold. */
  when: readonly Condition[];
  then: RuleAction;
}

type Matcher = (value: string | undefined) => boolean;

export function compileMatcher(m: StringMatchConfig): Matcher {
  if (typeof m === 'string') return (v) => v === m;
  if ('in' in m) {
    const set = new Set(m.in);
    return (v) => v !== undefined && set.has(v);
  }
  const re = new RegExp(m.regex, 'u');
  return (v) => v !== undefined && v.length <= REGEX_VALUE_CHARS && re.test(v);
}

const refsMatch = (refs: readonly string[]): TargetMatch => (t) => refs.some((r) => refMatches(r, { provider: t.provider.name, model: t.model }));

function targetCondition(cond: NonNullable<RuleConfig['when']['target']>, target: ResolvedTarget): Condition {
  return (_facts, stats) => {
    const s = stats(target);
    if (cond.ttft_p95_ms_over !== undefined) {
      const p = s.ttftMs.length >= cond.min_samples ? p95(s.ttftMs) : undefined;
      if (p === undefined || p <= cond.ttft_p95_ms_over) return false;
    }
    if (cond.error_ratio_over !== undefined) {
      if (s.outcomes < cond.min_samples || s.failures / s.outcomes <= cond.error_ratio_over) return false;
    }
    return true;
  };
}

function conditions(w: RuleConfig['when'], targets: readonly ResolvedTarget[]): Condition[] {
  const out: Condition[] = [];
  for (const [name, m] of Object.entries(w.header ?? {})) {
    const match = compileMatcher(m);
    const header = name.toLowerCase();
    out.push((f) => match(f.headers[header]));
  }
  for (const [field, m] of Object.entries(w.metadata ?? {})) {
    const match = compileMatcher(m);
    out.push((f) => match(f.metadata[field]));
  }
  if (w.user !== undefined) {
    const match = compileMatcher(w.user);
    out.push((f) => match(f.user));
  }
  if (w.key !== undefined) {
    const globs = (typeof w.key === 'string' ? [w.key] : w.key).map(globRegExp);
    out.push((f) => f.key !== undefined && globs.some((g) => g.test(f.key ?? '')));
  }
  if (w.team !== undefined) {
    const match = compileMatcher(w.team);
    out.push((f) => match(f.team));
  }
  const n = w.input_tokens;
  if (n !== undefined) out.push((f) => (n.gt === undefined || f.inputTokens > n.gt) && (n.lt === undefined || f.inputTokens < n.lt));
  const cond = w.target;
  if (cond !== undefined) {
    const target = targets.find(refsMatch([cond.ref]));
    // The schema refuses a ref that names no target: this only guards a config built without it.
    if (target === undefined) throw new Error(`rule target ${cond.ref} names no target of the route`);
    out.push(targetCondition(cond, target));
  }
  return out;
}

function action(t: RuleConfig['then']): RuleAction {
  if (t.use !== undefined) return { kind: 'use', match: refsMatch(t.use) };
  if (t.skip !== undefined) return { kind: 'skip', match: refsMatch(t.skip) };
  if (t.prefer !== undefined) return { kind: 'prefer', match: refsMatch(t.prefer) };
  // `provider/model` is more specific than `provider`: it wins whatever the order. A Map, so a ref never meets Object.prototype.
  const weights = new Map(Object.entries(t.weights ?? {}));
  return { kind: 'weights', weightOf: (target) => weights.get(`${target.provider.name}/${target.model}`) ?? weights.get(target.provider.name) };
}

/** `targets`: the route's targets and fallbacks, resolved. */
export function compileRules(rules: readonly RuleConfig[], targets: readonly ResolvedTarget[]): ResolvedRule[] {
  return rules.map((r) => Object.freeze({ name: r.name, when: conditions(r.when, targets), then: action(r.then) }));
}
