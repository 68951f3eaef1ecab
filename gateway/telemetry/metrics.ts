import type { Attributes, Meter } from '@opentelemetry/api';
import type { CompletedRequest } from '../pipeline/record.js';
import type { BreakerState } from '../routing/breaker.js';
import type { StateHealth } from '../state/types.js';
import { cacheStats } from '../cache/registry.js';
import { answering, requestCost } from './attributes.js';
import type { LocalMetrics } from './local-metrics.js';
import { extend } from '../objects.js';

/** Advised bucket boundaries (standards.md §1.7): DUR in seconds, TOK in tokens. */
const DUR = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOK = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const BREAKER_VALUE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerView {
  route: string;
  provider: string;
  model: string;
  state: BreakerState;
}

export type BudgetScope = 'key' | 'team' | 'customer';

/**
 * What each budget has left, as the budget stage last learned it: the stage calls `set` after
 * every spend it counts, and keel_budget_remaining_usd{scope,name,period} reads the latest at
 * each scrape or export. One per process, like the budgets it mirrors.
 */
export class BudgetGauge {
  readonly #remaining = new Map<string, { scope: BudgetScope; name: string; period: string; usd: number }>();

  /** `period` as the config names it (`day`, `month`; the stage may add the window, e.g. `day-rolling`). */
  set(scope: BudgetScope, name: string, period: string, remainingUsd: number): void {
    this.#remaining.set(`${scope}|${name}|${period}`, { scope, name, period, usd: remainingUsd });
  }

  /** A budget no longer configured (a reload removed it): its series ends instead of freezing. */
  delete(scope: BudgetScope, name: string, period: string): void {
    this.#remaining.delete(`${scope}|${name}|${period}`);
  }

  clear(): void {
    this.#remaining.clear();
  }

  entries(): { scope: BudgetScope; name: string; period: string; usd: number }[] {
    return [...this.#remaining.values()];
  }
}

export const budgetGauge = new BudgetGauge();

export interface GatewayMetrics {
  record(rec: CompletedRequest): void;
  dropped(destination: string, count: number): void;
}

/**
 * The GenAI client metrics per upstream attempt (a gateway is the provider's client),
 * and keel_* counters per request. Exported on /metrics and over OTLP by the
 * MeterProvider's readers; instrument names are OTel's, Prometheus gets them
 * with `_` and the usual suffixes.
 */
const GOVERNANCE: ReadonlySet<string> = new Set(['caller_over_limit', 'caller_over_budget', 'caller_guardrail', 'caller_forbidden']);

/**
 * `local`: the per-request counters and histograms (local-metrics.ts says why they are not the
 * SDK's); `meter`: the observed gauges and counters, read once per collection.
 */
export function createMetrics(meter: Meter, local: LocalMetrics, breakers: () => BreakerView[], state?: () => StateHealth, budgets: BudgetGauge = budgetGauge): GatewayMetrics {
  const duration = local.histogram({ name: 'gen_ai.client.operation.duration', unit: 's', description: 'GenAI operation duration', boundaries: DUR });
  const tokens = local.histogram({ name: 'gen_ai.client.token.usage', unit: '{token}', description: 'Tokens used per operation', boundaries: TOK });
  const ttfc = local.histogram({ name: 'gen_ai.client.operation.time_to_first_chunk', unit: 's', description: 'Time to the first chunk of a stream', boundaries: DUR });
  const tpoc = local.histogram({ name: 'gen_ai.client.operation.time_per_output_chunk', unit: 's', description: 'Time between chunks of a stream', boundaries: DUR });
  const requests = local.counter({ name: 'keel.requests', description: 'Requests handled, by route, status and error class' });
  const fallbacks = local.counter({ name: 'keel.fallbacks', description: 'Fallback targets tried' });
  const retries = local.counter({ name: 'keel.retries', description: 'Retries on the same target' });
  const hedges = local.counter({ name: 'keel.hedges', description: 'Requests hedged to a second target' });
  const cacheHits = local.counter({ name: 'keel.cache.hits', description: 'Requests answered from cache, by kind (exact, semantic, stale)' });
  const cacheMisses = local.counter({ name: 'keel.cache.misses', description: 'Requests of cached routes no entry answered' });
  const cacheSaved = local.counter({ name: 'keel.cache.saved.usd', description: 'What answers served from cache cost when they were bought (USD)' });
  const cacheLookup = local.histogram({ name: 'keel.cache.lookup.duration', unit: 's', description: 'Cache lookup time (embedding included for semantic lookups)', boundaries: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] });
  meter.createObservableCounter('keel.cache.stores', { description: 'Answers stored in this replica\'s cache' }).addCallback((obs) => obs.observe(cacheStats().stores));
  meter.createObservableCounter('keel.cache.evictions', { description: 'Entries evicted from this replica\'s cache to stay within cache.max_bytes' }).addCallback((obs) => obs.observe(cacheStats().evictions));
  meter.createObservableGauge('keel.cache.semantic.vectors', { description: 'Vectors in this replica\'s semantic cache index (its own and those read from the other replicas)' }).addCallback((obs) => obs.observe(cacheStats().vectors));
  meter.createObservableGauge('keel.cache.bytes', { unit: 'By', description: 'Bytes held by this replica\'s cache' }).addCallback((obs) => obs.observe(cacheStats().bytes));
  const cost = local.counter({ name: 'keel.cost', unit: 'USD', description: 'Cost of answered requests' });
  const verdicts = local.counter({ name: 'keel.guardrail.verdicts', description: 'Guardrail matches by rule, action and direction (in: the request, out: the answer); never the matched text' });
  const refusals = local.counter({ name: 'keel.governance.refusals', description: 'Requests refused by a rate limit (caller_over_limit), a budget (caller_over_budget), a guardrail (caller_guardrail) or route access (caller_forbidden)' });
  // Unit-less names so Prometheus shows keel_spend_usd_total and keel_budget_remaining_usd as issue 15 names them.
  const spend = local.counter({ name: 'keel.spend.usd', description: 'Cost of answered requests (USD) per key, team and customer: ids, never the key' });
  meter.createObservableGauge('keel.budget.remaining.usd', { description: 'USD left in each configured budget for its current period, as the budget stage last counted it' }).addCallback((obs) => {
    for (const b of budgets.entries()) obs.observe(b.usd, { scope: b.scope, name: b.name, period: b.period });
  });
  const drops = local.counter({ name: 'keel.telemetry.dropped', description: 'Spans dropped per destination (record: not handed to the span pipeline); metrics: requests whose metrics failed' });
  meter.createObservableGauge('keel.breaker.state', { description: 'Circuit breaker per route and target: 0 closed, 1 half-open, 2 open' }).addCallback((obs) => {
    for (const b of breakers()) obs.observe(BREAKER_VALUE[b.state], { 'keel.route': b.route, 'keel.provider': b.provider, 'gen_ai.request.model': b.model });
  });

  if (state !== undefined) {
    meter.createObservableGauge('keel.state.degraded', { description: 'Shared state (state.redis) unreachable: 1 while this replica serves on its own local state (breakers per replica)' }).addCallback((obs) => {
      const h = state();
      obs.observe(h.degraded ? 1 : 0, { 'keel.state.backend': h.backend });
    });
    meter.createObservableCounter('keel.state.admissions', { description: 'Budget and rate-limit admissions by path: lease (from this replica\'s allowance, no round trip) or shared (one call to the shared state)' }).addCallback((obs) => {
      const a = state().admissions;
      if (a === undefined) return;
      obs.observe(a.lease, { path: 'lease' });
      obs.observe(a.shared, { path: 'shared' });
    });
  }

  const recordCache = (rec: CompletedRequest, route: string): void => {
    const c = rec.cache;
    if (c === undefined) return;
    if (c.lookupMs !== undefined) cacheLookup.record(c.lookupMs / 1000, { 'keel.route': route });
    if (c.status === 'miss') cacheMisses.add(1, { 'keel.route': route });
    if (c.status !== 'exact' && c.status !== 'semantic' && c.status !== 'stale') return;
    cacheHits.add(1, { 'keel.route': route, 'keel.cache.status': c.status });
    if (c.savedUsd !== undefined) cacheSaved.add(c.savedUsd, { 'keel.route': route });
  };

  // The cache-hit series exists from a route's first request (at 0 until a cache answers),
  // created once per route rather than by adding 0 on every request.
  const routesSeen = new Set<string>();
  return {
    record(rec) {
      const route = rec.route ?? '';
      if (!routesSeen.has(route)) {
        routesSeen.add(route);
        cacheHits.add(0, { 'keel.route': route });
      }
      requests.add(1, { 'keel.route': route, 'http.response.status_code': rec.status, 'keel.error.class': rec.errorClass ?? 'none' });
      if (rec.fallbacks > 0) fallbacks.add(rec.fallbacks, { 'keel.route': route });
      if (rec.retries > 0) retries.add(rec.retries, { 'keel.route': route });
      if (rec.hedged) hedges.add(1, { 'keel.route': route });
      recordCache(rec, route);
      for (const v of rec.guardrails) verdicts.add(v.count, { 'keel.route': route, 'keel.guardrail.rule': v.rule, 'keel.guardrail.action': v.action, 'keel.guardrail.direction': v.direction });
      if (rec.errorClass !== undefined && GOVERNANCE.has(rec.errorClass)) refusals.add(1, { 'keel.route': route, 'keel.error.class': rec.errorClass });
      const usd = requestCost(rec);
      if (usd !== undefined) {
        cost.add(usd, { 'keel.route': route });
        spend.add(usd, { key: rec.clientId ?? '', team: rec.team ?? '', customer: rec.customer ?? '' });
      }
      const answer = answering(rec);
      for (const a of rec.attempts) {
        const attrs: Attributes = { 'gen_ai.operation.name': rec.operation, 'gen_ai.provider.name': a.genAiProvider, 'gen_ai.request.model': a.model, 'server.address': a.serverAddress, 'server.port': a.serverPort };
        if (a === answer && rec.responseModel !== undefined) attrs['gen_ai.response.model'] = rec.responseModel;
        duration.record(a.durationMs / 1000, a.ok ? attrs : extend(attrs, { 'error.type': a.upstreamCode ?? a.errorCode ?? '_OTHER' }));
        if (a === answer && rec.usage !== undefined) {
          tokens.record(rec.usage.inputTokens, extend(attrs, { 'gen_ai.token.type': 'input' }));
          tokens.record(rec.usage.outputTokens, extend(attrs, { 'gen_ai.token.type': 'output' }));
        }
        if (rec.stream && a.ttftMs !== undefined) ttfc.record(a.ttftMs / 1000, attrs);
        if (rec.stream && a === answer) tpoc.recordEach(rec.interTokenMs, 1 / 1000, attrs);
      }
    },
    dropped(destination, count) {
      drops.add(count, { destination });
    },
  };
}
