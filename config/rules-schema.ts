import { z } from 'zod';

/**
 * Routing rules of one route (`routes.<name>.rules`): an ordered list of `{ name, when, then }`,
 * evaluated before the route's strategy (gateway/routing/rules.ts). Refs name targets as
 * `provider` or `provider/model`; checkRuleRefs ties them to the route's own targets.
 */

/** Longest pattern accepted: header and metadata matchers are short; a long one is a mistake or an attack. */
export const MAX_PATTERN_CHARS = 200;
/**
 * At most this many quantifiers in a pattern: V8 backtracks, and k repeats over the same
 * characters cost ~n^(k+1) steps on a crafted value (`a*a*a*b` on 256 characters: ~0.7 s;
 * two: ~10 ms, and ~1 ms at REGEX_VALUE_CHARS, rules.ts). `?` counts too (`a?` doubles paths).
 */
const MAX_QUANTIFIERS = 2;

/**
 * Why a pattern could backtrack catastrophically, or undefined. Structural, so every accepted
 * pattern is at worst quadratic-to-cubic in a value the evaluator also bounds: no backreferences
 * or lookarounds, no quantifier on a group that itself repeats or alternates (`(a+)+`, `(a|ab)*`,
 * `(a?){50}`), at most MAX_QUANTIFIERS quantifiers.
 */
export function unsafePattern(source: string): string | undefined {
  if (source.length > MAX_PATTERN_CHARS) return `longer than ${MAX_PATTERN_CHARS} characters`;
  if (/\\[1-9]|\\k</.test(source)) return 'backreferences are not allowed';
  if (/\(\?<?[=!]/.test(source)) return 'lookarounds are not allowed';
  // Each open group: does it contain a quantifier or an alternation?
  const groups: boolean[] = [];
  let risky = false;
  let quantifiers = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const q = quantifierEnd(source, i);
    if (q !== undefined) {
      if (risky) return 'a quantified group that itself repeats or alternates (catastrophic backtracking)';
      if (++quantifiers > MAX_QUANTIFIERS) return `more than ${MAX_QUANTIFIERS} quantifiers (* + ? {n,m})`;
      if (groups.length > 0) groups[groups.length - 1] = true;
      i = q;
      risky = false;
      continue;
    }
    risky = false;
    if (c === '\\') i++;
    else if (c === '[') i = classEnd(source, i);
    else if (c === '(') {
      groups.push(false);
      // `(?:` and `(?<name>` open a group; their `?` is no quantifier.
      if (source[i + 1] === '?') i = source[i + 2] === '<' ? Math.max(i + 2, source.indexOf('>', i)) : i + 2;
    } else if (c === '|' && groups.length > 0) groups[groups.length - 1] = true;
    else if (c === ')') {
      const inner = groups.pop() ?? false;
      if (inner && groups.length > 0) groups[groups.length - 1] = true;
      risky = inner;
    }
  }
  return undefined;
}

function classEnd(source: string, start: number): number {
  for (let i = start + 1; i < source.length; i++) {
    if (source[i] === '\\') i++;
    else if (source[i] === ']') return i;
  }
  return source.length;
}

/** Where a quantifier starting at i (`*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, maybe lazy) ends; undefined: none starts there. */
function quantifierEnd(source: string, i: number): number | undefined {
  const c = source[i];
  let end: number;
  if (c === '*' || c === '+' || c === '?') end = i;
  else if (c === '{') {
    const m = /^\{\d+(,\d*)?\}/.exec(source.slice(i));
    if (m === null) return undefined;
    end = i + m[0].length - 1;
  } else return undefined;
  return source[end + 1] === '?' ? end + 1 : end;
}

const regexSchema = z
  .object({ regex: z.string().min(1) })
  .strict()
  .superRefine((r, ctx) => {
    const unsafe = unsafePattern(r.regex);
    if (unsafe !== undefined) return void ctx.addIssue({ code: 'custom', path: ['regex'], message: `pattern refused: ${unsafe}` });
    try {
      new RegExp(r.regex, 'u');
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['regex'], message: `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
    }
  });

/** An exact string, a regex (JavaScript syntax, `u` flag, anchored only where it says so), or one of a list. */
export const stringMatchSchema = z.union([z.string(), regexSchema, z.object({ in: z.array(z.string()).min(1).max(100) }).strict()]);

const targetConditionSchema = z
  .object({
    ref: z.string().min(1),
    ttft_p95_ms_over: z.number().positive().optional(),
    error_ratio_over: z.number().min(0).lt(1).optional(),
    /** Samples the target needs in its recent window before the condition can hold (a p95 of fewer than 5 is noise). */
    min_samples: z.number().int().min(5).max(50).default(10),
  })
  .strict()
  .refine((t) => t.ttft_p95_ms_over !== undefined || t.error_ratio_over !== undefined, { message: 'needs ttft_p95_ms_over or error_ratio_over' });

const whenSchema = z
  .object({
    /** Request headers by name (case-insensitive); a header sent twice is matched as its values joined by ", ". */
    header: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'an HTTP header name'), stringMatchSchema).optional(),
    /** Fields of the body's `metadata` object (strings, numbers and booleans, as text). */
    metadata: z.record(z.string().min(1), stringMatchSchema).optional(),
    /** OpenAI `user`, Anthropic `metadata.user_id`. */
    user: stringMatchSchema.optional(),
    /** The caller's key id (auth.keys[].id), a glob (`*`, `?`) or a list of them. */
    key: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    team: stringMatchSchema.optional(),
    /** Estimated input tokens (the same estimate budgets use). */
    input_tokens: z
      .object({ gt: z.number().int().min(0).optional(), lt: z.number().int().min(1).optional() })
      .strict()
      .refine((n) => n.gt !== undefined || n.lt !== undefined, { message: 'needs gt or lt' })
      .optional(),
    target: targetConditionSchema.optional(),
  })
  .strict()
  .refine((w) => Object.values(w).some((v) => v !== undefined), { message: 'a rule needs at least one condition (header, metadata, user, key, team, input_tokens, target)' });

const refs = z.array(z.string().min(1)).min(1);

const thenSchema = z
  .object({
    /** Only these targets (matching fallbacks move up among them); the other fallbacks stay. */
    use: refs.optional(),
    /** Never these, targets or fallbacks. */
    skip: refs.optional(),
    /** These first, in the strategy's order, the rest after. */
    prefer: refs.optional(),
    /** Weights for the weighted strategy (and the tie order of priority and cost). */
    weights: z.record(z.string().min(1), z.number().min(0)).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const given = Object.entries(t).filter(([, v]) => v !== undefined).map(([k]) => k);
    if (given.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `needs exactly one action of use, skip, prefer, weights${given.length > 1 ? ` (got ${given.join(', ')})` : ''}` });
    if (t.weights !== undefined && Object.keys(t.weights).length === 0) ctx.addIssue({ code: 'custom', path: ['weights'], message: 'needs at least one target' });
  });

export const ruleSchema = z
  .object({
    /** On the span (keel.route.rule): short and plain. */
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'),
    when: whenSchema,
    then: thenSchema,
  })
  .strict();

export const rulesSchema = z.array(ruleSchema).max(50);

export type RuleConfig = z.infer<typeof ruleSchema>;
export type StringMatchConfig = z.infer<typeof stringMatchSchema>;

/** The parts of a target a ref is matched against. */
export interface RefTarget {
  provider: string;
  model: string;
}

/** Whether a ref (`provider` or `provider/model`) names a target. A provider named with a slash is matched whole first. */
export function refMatches(ref: string, t: RefTarget): boolean {
  if (ref === t.provider) return true;
  return ref === `${t.provider}/${t.model}`;
}

/**
 * Every ref of a route's rules must name at least one of its targets or fallbacks; a target
 * condition's ref exactly one (its statistics are one target's). Rule names are unique.
 */
export function checkRuleRefs(route: { targets: readonly RefTarget[]; fallbacks: readonly RefTarget[]; rules?: readonly RuleConfig[] | undefined }, path: (string | number)[], ctx: z.RefinementCtx): void {
  const all = [...route.targets, ...route.fallbacks];
  const listed = [...new Set(all.map((t) => `${t.provider}/${t.model}`))].join(', ');
  const names = new Set<string>();
  route.rules?.forEach((rule, i) => {
    const at = [...path, 'rules', i];
    if (names.has(rule.name)) ctx.addIssue({ code: 'custom', path: [...at, 'name'], message: `duplicate rule name "${rule.name}"` });
    names.add(rule.name);
    const check = (ref: string, where: (string | number)[]) => {
      if (!all.some((t) => refMatches(ref, t))) ctx.addIssue({ code: 'custom', path: [...at, ...where], message: `"${ref}" matches no target or fallback of this route (${listed})` });
    };
    const cond = rule.when.target;
    if (cond !== undefined) {
      const named = new Set(all.filter((t) => refMatches(cond.ref, t)).map((t) => `${t.provider}/${t.model}`));
      if (named.size === 0) check(cond.ref, ['when', 'target', 'ref']);
      else if (named.size > 1) ctx.addIssue({ code: 'custom', path: [...at, 'when', 'target', 'ref'], message: `"${cond.ref}" names ${named.size} targets (${[...named].join(', ')}): name one as provider/model` });
    }
    for (const action of ['use', 'skip', 'prefer'] as const) rule.then[action]?.forEach((ref, j) => check(ref, ['then', action, j]));
    for (const ref of Object.keys(rule.then.weights ?? {})) check(ref, ['then', 'weights', ref]);
  });
}
