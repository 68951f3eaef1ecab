import type { ClickHouseClient } from '@clickhouse/client';
import type { AuditSink } from '../config/audit.js';
import { durationMs, type AdaptiveConfig } from '../config/slo-schema.js';
import { insertRows, queryRows, readTable } from '../store/index.js';
import { advanceCanary, shareOf, specSignature, startCanary, type CanaryEvent, type CanarySample, type CanarySpec, type CanaryState } from './canary.js';
import { nextWeights, type TargetSample, type WeightChange } from './weights.js';

export interface WeightsSnapshotJson {
  version: string;
  /** `route|provider|model` → multiplier (absent = 1). */
  multipliers: Record<string, number>;
  /** Canary targets → current share of their route, percent. */
  canaries: Record<string, number>;
}

export interface PublisherOptions {
  client: ClickHouseClient;
  /** Routes that accept adaptive weights. */
  routes: () => readonly string[];
  /** The availability error budget (1 − objective) of a route. */
  budget: (route: string) => number;
  /** slo.adaptive in force (read each tick, so a config reload applies). */
  cfg: () => AdaptiveConfig;
  /** Canary targets under rollout (from the routes' `canary` blocks). */
  canaries?: () => readonly CanarySpec[];
  /** Records canary steps and rollbacks (alert_events) and logs them. */
  onCanary?: (e: CanaryEvent, at: number) => Promise<void>;
  now?: () => number;
}

/** Attempts the target is answerable for failed: provider and gateway faults, not the caller's, not cancelled hedges. */
const BAD = "NOT ok AND startsWith(error_class, 'provider_')";

/**
 * Computes and publishes per-target weight multipliers for adaptive routes: versioned
 * snapshots in routing_weights (with the reason for every change), served to gateway
 * replicas, which poll and swap them atomically.
 */
export class WeightsPublisher {
  readonly #o: PublisherOptions;
  #current: WeightsSnapshotJson = { version: 'adaptive-0', multipliers: {}, canaries: {} };
  readonly #canaryState = new Map<string, CanaryState>();
  /** Canary states as last stored, with the rollout signature they belong to (resumed after a restart). */
  #stored: Map<string, { spec: string; state: CanaryState }> | undefined;

  constructor(o: PublisherOptions) {
    this.#o = o;
  }

  /** Reads span every shard (writes stay on the local tables, where their dedup tokens hold). */
  #table(name: string): string {
    return readTable(this.#o.client, name);
  }

  get snapshot(): WeightsSnapshotJson {
    return this.#current;
  }

  /**
   * Carries on from the weights the previous SLO leader published (a takeover): gateways keep
   * the same version until this engine has something to change, even when its store is another.
   */
  adopt(w: WeightsSnapshotJson): void {
    this.#current = { version: w.version, multipliers: { ...w.multipliers }, canaries: { ...w.canaries } };
  }

  /** Picks up the last published version (after a restart). */
  async load(): Promise<void> {
    const rows = await queryRows<{ version: string; key: string; multiplier: number }>(
      this.#o.client,
      `SELECT version, concat(route, '|', provider, '|', model) AS key, multiplier FROM ${this.#table('routing_weights')}
       WHERE version = (SELECT argMax(version, ts) FROM ${this.#table('routing_weights')})`,
    );
    if (rows[0] !== undefined) this.#current = { ...this.#current, version: rows[0].version, multipliers: Object.fromEntries(rows.map((r) => [r.key, r.multiplier])) };
    // Shares as stored, published at once: a rolled-back canary must not get its first step's share until the first tick.
    const stored = await this.#loadCanaries();
    const canaries: Record<string, number> = {};
    for (const spec of this.#o.canaries?.() ?? []) {
      const s = stored.get(spec.key);
      if (s !== undefined && s.spec === specSignature(spec)) canaries[spec.key] = shareOf(spec, s.state);
    }
    this.#current = { ...this.#current, canaries };
  }

  async #loadCanaries(): Promise<Map<string, { spec: string; state: CanaryState }>> {
    const rows = await queryRows<{ key: string; spec: string; step: number; status: CanaryState['status']; since: number; reason: string }>(
      this.#o.client,
      `SELECT key, argMax(spec, ts) AS spec, argMax(step, ts) AS step, argMax(status, ts) AS status,
              toUnixTimestamp64Milli(argMax(since, ts)) AS since, argMax(reason, ts) AS reason
       FROM ${this.#table('canary_state')} GROUP BY key`,
    );
    this.#stored = new Map(rows.map((r) => [r.key, { spec: r.spec, state: { key: r.key, step: Number(r.step), stepStartedAt: Number(r.since), status: r.status, reason: r.reason } }]));
    return this.#stored;
  }

  /** The stored state when it belongs to this rollout (same schedule and gate), else a fresh start, stored. */
  async #resume(spec: CanarySpec, now: number): Promise<CanaryState> {
    const stored = (this.#stored ?? (await this.#loadCanaries())).get(spec.key);
    if (stored !== undefined && stored.spec === specSignature(spec)) return stored.state;
    const state = startCanary(spec, now);
    await this.#saveCanary(spec, state, now);
    return state;
  }

  async #saveCanary(spec: CanarySpec, s: CanaryState, now: number): Promise<void> {
    const row = { ts: String(now / 1000), key: s.key, spec: specSignature(spec), step: s.step, share: shareOf(spec, s), status: s.status, since: String(s.stepStartedAt / 1000), reason: s.reason };
    await insertRows(this.#o.client, 'canary_state', [row]);
    this.#stored?.set(s.key, { spec: row.spec, state: s });
  }

  async #samples(now: number): Promise<TargetSample[]> {
    const routes = this.#o.routes();
    if (routes.length === 0) return [];
    const rows = await queryRows<{ key: string; st: number; sb: number; lt: number; lb: number }>(
      this.#o.client,
      `SELECT concat(route, '|', provider, '|', model) AS key,
              countIf(Timestamp >= fromUnixTimestamp64Milli({short:Int64})) AS st,
              countIf(Timestamp >= fromUnixTimestamp64Milli({short:Int64}) AND ${BAD}) AS sb,
              count() AS lt, countIf(${BAD}) AS lb
       FROM ${this.#table('llm_attempts')}
       WHERE Timestamp >= fromUnixTimestamp64Milli({long:Int64}) AND Timestamp < fromUnixTimestamp64Milli({now:Int64}) AND route IN {routes:Array(String)}
       GROUP BY key`,
      { short: now - durationMs(this.#o.cfg().short), long: now - durationMs(this.#o.cfg().long), now, routes },
    );
    return rows.map((r) => ({ key: r.key, short: { total: r.st, bad: r.sb }, long: { total: r.lt, bad: r.lb } }));
  }

  /** Attempts of a canary and of its route's other targets since `from`. */
  async #canarySample(key: string, from: number, now: number): Promise<CanarySample> {
    const [route = '', provider = '', model = ''] = key.split('|');
    const [row] = await queryRows<{ ct: number; cb: number; bt: number; bb: number }>(
      this.#o.client,
      `SELECT countIf(provider = {p:String} AND model = {m:String}) AS ct, countIf(provider = {p:String} AND model = {m:String} AND ${BAD}) AS cb,
              countIf(NOT (provider = {p:String} AND model = {m:String})) AS bt, countIf(NOT (provider = {p:String} AND model = {m:String}) AND ${BAD}) AS bb
       FROM ${this.#table('llm_attempts')} WHERE route = {r:String} AND Timestamp >= fromUnixTimestamp64Milli({from:Int64}) AND Timestamp < fromUnixTimestamp64Milli({now:Int64})`,
      { r: route, p: provider, m: model, from, now },
    );
    return { canary: { total: row?.ct ?? 0, bad: row?.cb ?? 0 }, baseline: { total: row?.bt ?? 0, bad: row?.bb ?? 0 } };
  }

  /** Moves every canary one evaluation forward; returns whether any share changed. */
  async #canaries(now: number): Promise<boolean> {
    let changed = false;
    for (const spec of this.#o.canaries?.() ?? []) {
      const known = this.#canaryState.get(spec.key);
      const state = known !== undefined && this.#stored?.get(spec.key)?.spec === specSignature(spec) ? known : await this.#resume(spec, now);
      this.#canaryState.set(spec.key, state);
      const before = shareOf(spec, state);
      const { state: next, event } = advanceCanary(spec, state, await this.#canarySample(spec.key, state.stepStartedAt, now), this.#o.budget(spec.key.split('|')[0] ?? ''), now);
      this.#canaryState.set(spec.key, next);
      if (event !== undefined) {
        await this.#saveCanary(spec, next, now);
        await this.#o.onCanary?.(event, now);
      }
      const after = shareOf(spec, next);
      if (this.#current.canaries[spec.key] !== after || before !== after) changed = true;
      this.#current = { ...this.#current, canaries: { ...this.#current.canaries, [spec.key]: after } };
    }
    return changed;
  }

  /** One evaluation: new multipliers and canary shares, published as a new version when anything changed. */
  async tick(): Promise<WeightChange[]> {
    const now = (this.#o.now ?? Date.now)();
    const canariesChanged = await this.#canaries(now);
    const prev = new Map(Object.entries(this.#current.multipliers));
    const { next, changes } = nextWeights(prev, await this.#samples(now), (key) => this.#o.budget(key.split('|')[0] ?? ''), this.#o.cfg());
    if (changes.length === 0) {
      if (canariesChanged) this.#current = { ...this.#current, version: `w${now}` };
      return [];
    }
    const version = `w${now}`;
    const reasons = new Map(changes.map((c) => [c.key, c.reason]));
    await insertRows(
      this.#o.client,
      'routing_weights',
      [...next].map(([key, multiplier]) => {
        const [route = '', provider = '', model = ''] = key.split('|');
        return { ts: String(now / 1000), version, route, provider, model, multiplier, reason: reasons.get(key) ?? 'unchanged' };
      }),
      `weights:${version}`,
    );
    this.#current = { ...this.#current, version, multipliers: Object.fromEntries(next) };
    return changes;
  }
}

/** Records canary steps and rollbacks as alert events (and logs them). */
export function recordCanaryEvents(client: ClickHouseClient, log: (msg: string) => void, audit?: AuditSink): (e: CanaryEvent, at: number) => Promise<void> {
  return async (e, at) => {
    log(`canary ${e.key}: ${e.transition} → ${e.share}% (${e.reason})`);
    await insertRows(client, 'alert_events', [{ ts: String(at / 1000), slo: `canary:${e.key}`, kind: 'canary', transition: e.transition, summary: e.reason, budget_remaining: e.share / 100 }]);
    // A completed rollout is the last step (to 100 %); the transition says which it was.
    audit?.([{ event: e.transition === 'rollback' ? 'canary_rollback' : 'canary_step', subject: e.key, detail: { transition: e.transition, share: e.share, reason: e.reason } }], at);
  };
}
