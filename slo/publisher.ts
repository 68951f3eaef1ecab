import type { ClickHouseClient } from '@clickhouse/client';
import { durationMs, type AdaptiveConfig } from '../config/slo-schema.js';
import { insertRows, queryRows } from '../store/index.js';
import { nextWeights, type TargetSample, type WeightChange } from './weights.js';

export interface WeightsSnapshotJson {
  version: string;
  /** `route|provider|model` → multiplier (absent = 1). */
  multipliers: Record<string, number>;
}

export interface PublisherOptions {
  client: ClickHouseClient;
  /** Routes that accept adaptive weights. */
  routes: () => readonly string[];
  /** The availability error budget (1 − objective) of a route. */
  budget: (route: string) => number;
  cfg: AdaptiveConfig;
  now?: () => number;
}

/** Attempts the target is answerable for failed: provider and gateway faults, not the caller's, not cancelled hedges. */
const BAD = "NOT ok AND (startsWith(error_class, 'provider_') OR error_class = 'gateway_credential')";

/**
 * Computes and publishes per-target weight multipliers for adaptive routes: versioned
 * snapshots in routing_weights (with the reason for every change), served to gateway
 * replicas, which poll and swap them atomically.
 */
export class WeightsPublisher {
  readonly #o: PublisherOptions;
  #current: WeightsSnapshotJson = { version: 'adaptive-0', multipliers: {} };

  constructor(o: PublisherOptions) {
    this.#o = o;
  }

  get snapshot(): WeightsSnapshotJson {
    return this.#current;
  }

  /** Picks up the last published version (after a restart). */
  async load(): Promise<void> {
    const rows = await queryRows<{ version: string; key: string; multiplier: number }>(
      this.#o.client,
      `SELECT version, concat(route, '|', provider, '|', model) AS key, multiplier FROM routing_weights
       WHERE version = (SELECT argMax(version, ts) FROM routing_weights)`,
    );
    if (rows[0] !== undefined) this.#current = { version: rows[0].version, multipliers: Object.fromEntries(rows.map((r) => [r.key, r.multiplier])) };
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
       FROM llm_attempts
       WHERE Timestamp >= fromUnixTimestamp64Milli({long:Int64}) AND Timestamp < fromUnixTimestamp64Milli({now:Int64}) AND route IN {routes:Array(String)}
       GROUP BY key`,
      { short: now - durationMs(this.#o.cfg.short), long: now - durationMs(this.#o.cfg.long), now, routes },
    );
    return rows.map((r) => ({ key: r.key, short: { total: r.st, bad: r.sb }, long: { total: r.lt, bad: r.lb } }));
  }

  /** One evaluation: new multipliers, published as a new version when anything changed. */
  async tick(): Promise<WeightChange[]> {
    const now = (this.#o.now ?? Date.now)();
    const prev = new Map(Object.entries(this.#current.multipliers));
    const { next, changes } = nextWeights(prev, await this.#samples(now), (key) => this.#o.budget(key.split('|')[0] ?? ''), this.#o.cfg);
    if (changes.length === 0) return [];
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
    this.#current = { version, multipliers: Object.fromEntries(next) };
    return changes;
  }
}
