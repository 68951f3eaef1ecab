import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigIssues, loadConfigText } from '../../config/index.js';
import { unsafePattern } from '../../config/rules-schema.js';
import { providerRules } from '../../gateway/providers/index.js';
import type { RequestFacts } from '../../gateway/routing/facts.js';
import { requestFacts } from '../../gateway/routing/facts.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { planTargets } from '../../gateway/routing/plan.js';
import { REGEX_VALUE_CHARS } from '../../gateway/routing/rules-compile.js';
import { evaluateRules, ruleTrail, type StatsLookup } from '../../gateway/routing/rules.js';
import { NO_WEIGHTS } from '../../gateway/routing/weights.js';
import type { TargetStats } from '../../gateway/routing/window.js';
import { WINDOW_MS } from '../../gateway/routing/window.js';
import { buildRuntime, type ResolvedRoute, type ResolvedTarget } from '../../gateway/runtime/resolve.js';
import type { ChatRequest } from '../../gateway/formats/canonical.js';
import { parseConfig } from '../helpers/harness.js';

const providers = {
  oai: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', api_key: 'k' },
  ant: { type: 'anthropic', base_url: 'http://127.0.0.1:9', api_key: 'k' },
};
const t = (provider: string, model: string, extra: Record<string, unknown> = {}) => ({ provider, model, ...extra });
const TARGETS = [t('oai', 'primary'), t('oai', 'cheap'), t('ant', 'claude')];
const FALLBACKS = [t('ant', 'backup')];

function routeWith(rules: unknown[], extra: Record<string, unknown> = {}): ResolvedRoute {
  const cfg = parseConfig({ providers, routes: { r: { targets: TARGETS, fallbacks: FALLBACKS, rules, ...extra } } });
  const route = buildRuntime(cfg, 1).routes.get('r');
  if (route === undefined) throw new Error('no route');
  return route;
}

const facts = (f: Partial<RequestFacts> = {}): RequestFacts => ({ headers: {}, metadata: {}, user: undefined, key: undefined, team: undefined, inputTokens: 100, ...f });
const NO_STATS: StatsLookup = () => ({ ttftMs: [], outcomes: 0, failures: 0 });
const statsOf = (by: Record<string, TargetStats>): StatsLookup => (x) => by[x.model] ?? { ttftMs: [], outcomes: 0, failures: 0 };
const models = (ts: readonly ResolvedTarget[]) => ts.map((x) => x.model);

/** The plan a route gives with the rules applied, weights drawn by `random`. */
function planOf(route: ResolvedRoute, f: RequestFacts, stats: StatsLookup = NO_STATS, random = () => 0) {
  const out = evaluateRules(route, route.rules, f, stats);
  const health = new HealthRegistry(() => 0);
  return { plan: models(planTargets(out.view, { health, weights: NO_WEIGHTS, random })), trail: ruleTrail(out.decisions), view: out.view };
}

describe('routing rules: matchers', () => {
  const use = (when: unknown) => routeWith([{ name: 'm', when, then: { use: ['oai/cheap'] } }]);
  const matched = (when: unknown, f: RequestFacts) => planOf(use(when), f).trail.length === 1;

  it('header: exact, regex and `in`, names case-insensitive, a missing header never matches', () => {
    expect(matched({ header: { 'X-Keel-Tag': 'batch' } }, facts({ headers: { 'x-keel-tag': 'batch' } }))).toBe(true);
    expect(matched({ header: { 'x-keel-tag': 'batch' } }, facts({ headers: { 'x-keel-tag': 'batchy' } }))).toBe(false);
    expect(matched({ header: { 'x-keel-tag': 'batch' } }, facts())).toBe(false);
    expect(matched({ header: { 'x-keel-tag': { regex: '^bat' } } }, facts({ headers: { 'x-keel-tag': 'batchy' } }))).toBe(true);
    expect(matched({ header: { 'x-keel-tag': { regex: '^bat' } } }, facts({ headers: { 'x-keel-tag': 'combat' } }))).toBe(false);
    expect(matched({ header: { 'x-keel-tag': { in: ['a', 'b'] } } }, facts({ headers: { 'x-keel-tag': 'b' } }))).toBe(true);
    expect(matched({ header: { 'x-keel-tag': { in: ['a', 'b'] } } }, facts({ headers: { 'x-keel-tag': 'c' } }))).toBe(false);
  });

  it('a regex never runs on a value longer than REGEX_VALUE_CHARS (exact matches take any length)', () => {
    const long = `batch${'x'.repeat(REGEX_VALUE_CHARS)}`;
    expect(matched({ header: { 'x-keel-tag': { regex: '^batch' } } }, facts({ headers: { 'x-keel-tag': long } }))).toBe(false);
    expect(matched({ header: { 'x-keel-tag': long } }, facts({ headers: { 'x-keel-tag': long } }))).toBe(true);
  });

  it('metadata, user, team by string matcher; key by glob or list of globs', () => {
    expect(matched({ metadata: { tier: 'free' } }, facts({ metadata: { tier: 'free' } }))).toBe(true);
    expect(matched({ metadata: { tier: 'free' } }, facts({ metadata: { tier: 'paid' } }))).toBe(false);
    expect(matched({ user: { regex: '^svc-' } }, facts({ user: 'svc-indexer' }))).toBe(true);
    expect(matched({ user: { regex: '^svc-' } }, facts())).toBe(false);
    expect(matched({ team: { in: ['data', 'ml'] } }, facts({ team: 'ml' }))).toBe(true);
    expect(matched({ team: 'data' }, facts({ team: 'web' }))).toBe(false);
    expect(matched({ key: 'batch-*' }, facts({ key: 'batch-7' }))).toBe(true);
    expect(matched({ key: 'batch-*' }, facts({ key: 'web-1' }))).toBe(false);
    expect(matched({ key: ['web-?', 'ops'] }, facts({ key: 'web-1' }))).toBe(true);
    // An open gateway has no key: a key rule never holds there.
    expect(matched({ key: '*' }, facts())).toBe(false);
  });

  it('input_tokens: strict bounds, both must hold', () => {
    expect(matched({ input_tokens: { gt: 100 } }, facts({ inputTokens: 101 }))).toBe(true);
    expect(matched({ input_tokens: { gt: 100 } }, facts({ inputTokens: 100 }))).toBe(false);
    expect(matched({ input_tokens: { lt: 50 } }, facts({ inputTokens: 49 }))).toBe(true);
    expect(matched({ input_tokens: { gt: 10, lt: 50 } }, facts({ inputTokens: 60 }))).toBe(false);
  });

  it('every given condition must hold', () => {
    const when = { header: { 'x-keel-tag': 'batch' }, team: 'data' };
    expect(matched(when, facts({ headers: { 'x-keel-tag': 'batch' }, team: 'data' }))).toBe(true);
    expect(matched(when, facts({ headers: { 'x-keel-tag': 'batch' }, team: 'web' }))).toBe(false);
  });

  it('target: TTFT p95 and error ratio over the target\'s recent samples, only with min_samples of them', () => {
    const slow = (n: number, ms: number): TargetStats => ({ ttftMs: Array.from({ length: n }, () => ms), outcomes: 0, failures: 0 });
    const ttft = { target: { ref: 'oai/primary', ttft_p95_ms_over: 700 } };
    expect(planOf(use(ttft), facts(), statsOf({ primary: slow(10, 900) })).trail).toEqual(['m']);
    expect(planOf(use(ttft), facts(), statsOf({ primary: slow(9, 900) })).trail).toEqual([]);
    expect(planOf(use(ttft), facts(), statsOf({ primary: slow(10, 700) })).trail).toEqual([]);
    // Another target's samples say nothing about this one.
    expect(planOf(use(ttft), facts(), statsOf({ cheap: slow(10, 900) })).trail).toEqual([]);
    const errors = { target: { ref: 'oai/primary', error_ratio_over: 0.2, min_samples: 5 } };
    expect(planOf(use(errors), facts(), statsOf({ primary: { ttftMs: [], outcomes: 5, failures: 2 } })).trail).toEqual(['m']);
    expect(planOf(use(errors), facts(), statsOf({ primary: { ttftMs: [], outcomes: 5, failures: 1 } })).trail).toEqual([]);
    expect(planOf(use(errors), facts(), statsOf({ primary: { ttftMs: [], outcomes: 4, failures: 4 } })).trail).toEqual([]);
    const both = { target: { ref: 'oai/primary', error_ratio_over: 0.2, ttft_p95_ms_over: 700, min_samples: 5 } };
    expect(planOf(use(both), facts(), statsOf({ primary: { ttftMs: [900, 900, 900, 900, 900], outcomes: 5, failures: 0 } })).trail).toEqual([]);
    expect(planOf(use(both), facts(), statsOf({ primary: { ttftMs: [900, 900, 900, 900, 900], outcomes: 5, failures: 5 } })).trail).toEqual(['m']);
  });
});

describe('routing rules: actions and their composition', () => {
  const always = { header: { 'x-go': 'yes' } };
  const go = facts({ headers: { 'x-go': 'yes' } });
  const rule = (name: string, then: unknown, when: unknown = always) => ({ name, when, then });

  it('without a matching rule the view is the route itself', () => {
    const route = routeWith([rule('a', { use: ['oai/cheap'] })]);
    const out = evaluateRules(route, route.rules, facts(), NO_STATS);
    expect(out.view).toBe(route);
    expect(out.decisions).toEqual([]);
  });

  it('use: only those targets (a provider ref names all of its models), fallbacks kept; a named fallback moves up', () => {
    expect(planOf(routeWith([rule('a', { use: ['oai/cheap'] })]), go).plan).toEqual(['cheap', 'backup']);
    expect(planOf(routeWith([rule('a', { use: ['oai'] })]), go).plan).toEqual(['primary', 'cheap', 'backup']);
    const up = planOf(routeWith([rule('a', { use: ['ant/backup'] })]), go);
    expect(models(up.view.targets)).toEqual(['backup']);
    expect(models(up.view.fallbacks)).toEqual([]);
  });

  it('skip: never those, targets or fallbacks', () => {
    expect(planOf(routeWith([rule('a', { skip: ['oai/primary', 'ant/backup'] })]), go).plan).toEqual(['cheap', 'claude']);
    expect(planOf(routeWith([rule('a', { skip: ['oai'] })]), go).plan).toEqual(['claude', 'backup']);
  });

  it('prefer: those first in the strategy order, the rest after; fallbacks too', () => {
    expect(planOf(routeWith([rule('a', { prefer: ['ant'] })]), go).plan).toEqual(['claude', 'backup', 'primary', 'cheap']);
    const prio = routeWith([rule('a', { prefer: ['oai/cheap', 'ant/claude'] })], {
      strategy: 'priority',
      targets: [t('oai', 'primary', { priority: 0 }), t('oai', 'cheap', { priority: 2 }), t('ant', 'claude', { priority: 1 })],
    });
    expect(planOf(prio, go).plan).toEqual(['claude', 'cheap', 'primary', 'backup']);
  });

  it('weights: override the weighted draw; provider/model beats provider whatever the order', () => {
    // random 0.99 picks the last target with weight left: weights decide which that is.
    const base = planOf(routeWith([]), go, NO_STATS, () => 0.99).plan;
    expect(base[0]).toBe('claude');
    const w = routeWith([rule('a', { weights: { 'oai/primary': 5, ant: 0 } })]);
    expect(planOf(w, go, NO_STATS, () => 0.99).plan).toEqual(['cheap', 'primary', 'claude', 'backup']);
    const specific = routeWith([rule('a', { weights: { 'oai/cheap': 0, oai: 0 } })]);
    expect(models(planOf(specific, go).view.targets).map((m) => m)).toEqual(['primary', 'cheap', 'claude']);
    expect(planOf(specific, go).view.targets.map((x) => x.weight)).toEqual([0, 0, 1]);
    const order = routeWith([rule('a', { weights: { oai: 3, 'oai/cheap': 7 } })]);
    expect(planOf(order, go).view.targets.map((x) => x.weight)).toEqual([3, 7, 1]);
  });

  it('rules apply in order, each to what the previous left; a later prefer comes first', () => {
    const route = routeWith([rule('no-primary', { skip: ['oai/primary'] }), rule('ant-first', { prefer: ['ant'] }), rule('backup-first', { prefer: ['ant/backup'] })]);
    const out = planOf(route, go);
    expect(out.plan).toEqual(['backup', 'claude', 'cheap']);
    expect(out.trail).toEqual(['no-primary', 'ant-first', 'backup-first']);
  });

  it('a rule that would leave no target is skipped and marked; the rules after it still apply', () => {
    const route = routeWith([
      rule('only-oai', { use: ['oai'] }),
      rule('skip-all-oai', { skip: ['oai'] }),
      rule('prefer-claude', { prefer: ['ant/claude'] }),
      rule('zero', { weights: { oai: 0 } }),
      rule('cheap-first', { prefer: ['oai/cheap'] }),
    ]);
    const out = planOf(route, go);
    // skip-all-oai would leave backup alone: allowed (fallbacks still answer). use then left no claude to prefer.
    expect(out.trail).toEqual(['only-oai', 'skip-all-oai', 'prefer-claude:skipped', 'zero:skipped', 'cheap-first:skipped']);
    expect(out.plan).toEqual(['backup']);
    const drop = routeWith([rule('use-oai', { use: ['oai'] }), rule('skip-everything', { skip: ['oai', 'ant'] })]);
    expect(planOf(drop, go)).toMatchObject({ plan: ['primary', 'cheap', 'backup'], trail: ['use-oai', 'skip-everything:skipped'] });
  });
});

describe('routing rules: request facts and live statistics', () => {
  const req = (body: Record<string, unknown>, user?: string): ChatRequest => ({
    model: 'r',
    system: undefined,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'x'.repeat(400) }] }],
    stream: false,
    streamUsage: false,
    ...(user === undefined ? {} : { user }),
    original: { format: 'anthropic-messages', body },
  });

  it('built from the call: headers joined, metadata scalars as text, key and team, the input estimate', () => {
    const f = requestFacts(
      { requestHeaders: { 'x-keel-tag': 'batch', 'x-multi': ['a', 'b'] }, client: { id: 'k1', team: 'data' } },
      req({ metadata: { user_id: 'u-1', n: 3, ok: true, nested: { a: 1 }, toString: 'mine' } }, 'u-1'),
    );
    expect(f.headers['x-keel-tag']).toBe('batch');
    expect(f.headers['x-multi']).toBe('a, b');
    expect({ ...f.metadata }).toEqual({ user_id: 'u-1', n: '3', ok: 'true', toString: 'mine' });
    expect(f.metadata.constructor).toBeUndefined();
    expect([f.user, f.key, f.team]).toEqual(['u-1', 'k1', 'data']);
    expect(f.inputTokens).toBe(104);
    expect(requestFacts({ client: undefined }, req({ metadata: 'not an object' })).metadata).toEqual({});
  });

  it('HealthRegistry keeps outcomes that judge the target, within the recent window', () => {
    let now = 0;
    const health = new HealthRegistry(() => now);
    const target = routeWith([]).targets[0];
    if (target === undefined) throw new Error('no target');
    health.observeOutcome(target, undefined);
    health.observeOutcome(target, 'provider_error');
    health.observeOutcome(target, 'caller_invalid');
    health.observeOutcome(target, 'gateway_cancelled');
    health.observeLatency(target, 900);
    expect(health.targetStats(target)).toEqual({ ttftMs: [900], outcomes: 2, failures: 1 });
    now += WINDOW_MS;
    expect(health.targetStats(target)).toEqual({ ttftMs: [], outcomes: 0, failures: 0 });
    for (let i = 0; i < 60; i++) health.observeOutcome(target, 'provider_timeout');
    expect(health.targetStats(target)).toMatchObject({ outcomes: 50, failures: 50 });
  });
});

function problems(route: Record<string, unknown>): string {
  const yaml = `providers:\n  oai: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }\nroutes:\n  r:\n${Object.entries(route)
    .map(([k, v]) => `    ${k}: ${JSON.stringify(v)}\n`)
    .join('')}`;
  try {
    loadConfigText(yaml, 'keel.yaml', { ...providerRules, env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return formatConfigIssues(err.issues);
    throw err;
  }
  return 'accepted';
}

describe('routing rules: config validation', () => {
  const targets = [t('oai', 'a'), t('oai', 'b')];
  const bad = (rules: unknown[]) => problems({ targets, rules });

  it('accepts a valid rule list', () => {
    expect(bad([{ name: 'ok', when: { header: { 'x-keel-tag': { regex: '^batch-[0-9]+$' } } }, then: { use: ['oai/a'] } }])).toBe('accepted');
  });

  it("the README's example is a valid config", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const example = /### Routing rules[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('batch-to-cheap');
    const yaml = `providers:\n  openai: { type: openai, api_key: sk-test-0123456789 }\n  anthropic: { type: anthropic, api_key: sk-test-0123456789 }\n${example ?? ''}`;
    const cfg = loadConfigText(yaml, 'README.md', { ...providerRules, env: {} });
    expect(cfg.routes.chat?.rules?.map((r) => r.name)).toEqual(['batch-to-cheap', 'primary-slow']);
  });

  it('refuses an unknown ref with the file, line and reason', () => {
    expect(bad([{ name: 'x', when: { team: 'a' }, then: { use: ['oai/zzz'] } }])).toMatch(/^keel\.yaml:6:\d+: routes\.r\.rules\[0\]\.then\.use\[0\]: "oai\/zzz" matches no target or fallback of this route \(oai\/a, oai\/b\)$/);
    expect(bad([{ name: 'x', when: { team: 'a' }, then: { weights: { nope: 1 } } }])).toMatch(/routes\.r\.rules\[0\]\.then\.weights\.nope: "nope" matches no target/);
    expect(bad([{ name: 'x', when: { target: { ref: 'oai', ttft_p95_ms_over: 5 } }, then: { prefer: ['oai/b'] } }])).toMatch(/when\.target\.ref: "oai" names 2 targets \(oai\/a, oai\/b\): name one as provider\/model/);
  });

  it('refuses a bad or dangerous regex', () => {
    const re = (regex: string) => bad([{ name: 'x', when: { header: { 'x-t': { regex } } }, then: { use: ['oai'] } }]);
    expect(re('(')).toMatch(/routes\.r\.rules\[0\]\.when\.header\.x-t.*not a valid regular expression/);
    expect(re('(a+)+$')).toMatch(/pattern refused: a quantified group that itself repeats or alternates/);
    expect(re('x'.repeat(201))).toMatch(/pattern refused: longer than 200 characters/);
  });

  it('refuses an empty rule, a rule without or with two actions, and duplicate names', () => {
    expect(bad([{ name: 'x', when: {}, then: { use: ['oai'] } }])).toMatch(/routes\.r\.rules\[0\]\.when: a rule needs at least one condition/);
    expect(bad([{ name: 'x', when: { team: 'a' }, then: {} }])).toMatch(/routes\.r\.rules\[0\]\.then: needs exactly one action/);
    expect(bad([{ name: 'x', when: { team: 'a' }, then: { use: ['oai'], skip: ['oai/a'] } }])).toMatch(/needs exactly one action.*\(got use, skip\)/);
    expect(bad([{ name: 'x', when: { team: 'a' }, then: { use: ['oai'] } }, { name: 'x', when: { team: 'b' }, then: { use: ['oai'] } }])).toMatch(/rules\[1\]\.name: duplicate rule name "x"/);
    expect(bad([{ name: 'x', when: { target: { ref: 'oai/a' } }, then: { use: ['oai'] } }])).toMatch(/needs ttft_p95_ms_over or error_ratio_over/);
  });

  it('unsafePattern: linear patterns pass, backtracking shapes do not', () => {
    for (const ok of ['^batch$', '^batch-[0-9]+$', '(?:ab)+', '^(?<tier>free|paid)$', '[(+*]x+', '\\d{4}']) expect(unsafePattern(ok)).toBeUndefined();
    for (const no of ['(a|ab)*', '(a?){50}', '(?:a+)+', 'a*a*a*b', '(a)\\1', '(?=a)a', '((a+))+']) expect(unsafePattern(no)).toBeDefined();
  });
});

describe('routing rules: properties', () => {
  const refs = ['oai', 'ant', 'oai/primary', 'oai/cheap', 'ant/claude', 'ant/backup'];
  const refList = fc.uniqueArray(fc.constantFrom(...refs), { minLength: 1, maxLength: 3 });
  const action = fc.oneof(
    refList.map((r) => ({ use: r })),
    refList.map((r) => ({ skip: r })),
    refList.map((r) => ({ prefer: r })),
    fc.dictionary(fc.constantFrom(...refs), fc.constantFrom(0, 1, 3)).filter((w) => Object.keys(w).length > 0).map((w) => ({ weights: w })),
  );
  const when = fc.oneof(
    fc.constant({ header: { 'x-go': 'yes' } }),
    fc.constant({ team: { in: ['a', 'b'] } }),
    fc.integer({ min: 0, max: 200 }).map((gt) => ({ input_tokens: { gt } })),
    fc.constant({ target: { ref: 'oai/primary', ttft_p95_ms_over: 500, min_samples: 5 } }),
  );
  const rules = fc.array(fc.record({ when, then: action }), { maxLength: 6 }).map((rs) => rs.map((r, i) => ({ name: `r${i}`, ...r })));
  const strategy = fc.constantFrom('weighted', 'priority', 'latency', 'cost');
  const factsArb = fc.record({ go: fc.boolean(), team: fc.constantFrom('a', 'c'), tokens: fc.integer({ min: 0, max: 300 }), slow: fc.boolean() });

  it('never an empty plan, never a target outside the route, the same output for the same input', () => {
    fc.assert(
      fc.property(rules, strategy, factsArb, fc.double({ min: 0, max: 0.999, noNaN: true }), (rs, s, fx, draw) => {
        const route = routeWith(rs, { strategy: s });
        const f = facts({ headers: fx.go ? { 'x-go': 'yes' } : {}, team: fx.team, inputTokens: fx.tokens });
        const stats = statsOf({ primary: { ttftMs: Array.from({ length: 5 }, () => (fx.slow ? 900 : 100)), outcomes: 0, failures: 0 } });
        const a = planOf(route, f, stats, () => draw);
        const b = planOf(route, f, stats, () => draw);
        expect(a.plan.length).toBeGreaterThan(0);
        const known = new Set([...TARGETS, ...FALLBACKS].map((x) => x.model));
        for (const m of a.plan) expect(known.has(m)).toBe(true);
        expect(new Set(a.plan).size).toBe(a.plan.length);
        expect(b.plan).toEqual(a.plan);
        expect(b.trail).toEqual(a.trail);
      }),
      { numRuns: 300 },
    );
  });
});
