import type { ClickHouseClient } from '@clickhouse/client';
import type { AlertingConfig, SloSpec } from '../config/slo-schema.js';
import { insertRows } from '../store/index.js';
import { AlertBook, type AlertChange, type AlertKind, type AlertState } from './alerts.js';
import { evaluateAll, type SloResult } from './engine.js';
import { Notifier, summary } from './notify.js';

export interface SloLoopOptions {
  client: ClickHouseClient;
  /** The SLOs in force (read each tick, so a config reload applies). */
  specs: () => readonly SloSpec[];
  /** Pending time, re-send period and receivers in force (read each tick and delivery, likewise). */
  alerting: () => AlertingConfig;
  intervalMs: number;
  now?: () => number;
  generatorURL: string;
  log: (msg: string) => void;
  retryBaseMs?: number;
}

export interface SloSnapshot {
  at: number;
  results: SloResult[];
  firing: AlertState[];
}

/**
 * The SLO engine's heartbeat: evaluate every SLO, move each alert through its states,
 * record transitions in alert_events and deliver them. A tick that fails (ClickHouse
 * away) is logged and the next one tries again; alerts keep their state meanwhile.
 */
export class SloLoop {
  readonly #o: SloLoopOptions;
  readonly #book: AlertBook;
  readonly notifier: Notifier;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #queued = false;
  #latest: SloSnapshot = { at: 0, results: [], firing: [] };

  constructor(o: SloLoopOptions) {
    this.#o = o;
    this.#book = new AlertBook(() => o.alerting().pending_s * 1000);
    this.notifier = new Notifier(o.alerting, {
      intervalMs: o.intervalMs,
      retries: 4,
      retryBaseMs: o.retryBaseMs ?? 1000,
      generatorURL: o.generatorURL,
      log: o.log,
    });
  }

  get latest(): SloSnapshot {
    return this.#latest;
  }

  async tick(): Promise<SloSnapshot> {
    const now = (this.#o.now ?? Date.now)();
    const results = await evaluateAll(this.#o.client, this.#o.specs(), now);
    const changes: { change: AlertChange; result: SloResult }[] = [];
    for (const r of results) {
      const conditions: Partial<Record<AlertKind, boolean>> = { page: r.evaluation.breaching.includes('page'), ticket: r.evaluation.breaching.includes('ticket') };
      if (r.absent !== undefined) conditions.absent = r.absent;
      for (const change of this.#book.update(r.spec.name, conditions as Record<AlertKind, boolean>, now)) changes.push({ change, result: r });
    }
    changes.push(...this.#retired(results, now));
    await this.#record(changes);
    for (const { change, result } of changes) {
      if (change.transition === 'pending') continue;
      this.notifier.notify({ spec: result.spec, kind: change.alert.kind, transition: change.transition, startsAt: change.alert.firedAt ?? change.alert.since, at: now, evaluation: result.evaluation });
    }
    const firing = this.#book.firing();
    const bySlo = new Map(results.map((r) => [r.spec.name, r]));
    this.notifier.resend(
      firing.flatMap((alert) => {
        const r = bySlo.get(alert.slo);
        return r === undefined ? [] : [{ alert, spec: r.spec, evaluation: r.evaluation }];
      }),
      now,
    );
    this.#latest = { at: now, results, firing };
    return this.#latest;
  }

  /**
   * SLOs a reload removed: their firing alerts resolve (told with their last evaluation) instead of
   * firing forever on a status page with nothing left to clear them.
   */
  #retired(results: readonly SloResult[], now: number): { change: AlertChange; result: SloResult }[] {
    const live = new Set(results.map((r) => r.spec.name));
    return this.#latest.results.filter((r) => !live.has(r.spec.name)).flatMap((r) => this.#book.retire(r.spec.name, now).map((change) => ({ change, result: r })));
  }

  async #record(changes: { change: AlertChange; result: SloResult }[]): Promise<void> {
    if (changes.length === 0) return;
    const rows = changes.map(({ change, result }) => ({
      ts: String(change.at / 1000),
      slo: change.alert.slo,
      kind: change.alert.kind,
      transition: change.transition,
      summary: change.transition === 'pending' ? `pending: ${summary({ spec: result.spec, kind: change.alert.kind, transition: 'firing', evaluation: result.evaluation })}` : summary({ spec: result.spec, kind: change.alert.kind, transition: change.transition, evaluation: result.evaluation }),
      budget_remaining: result.evaluation.remaining,
    }));
    await insertRows(this.#o.client, 'alert_events', rows);
  }

  start(): void {
    this.#timer = setInterval(() => this.refresh(), this.#o.intervalMs);
    this.#timer.unref();
    this.refresh();
  }

  /** Evaluates now, after any evaluation under way (a reload shows on the status page at once, not an interval later). */
  refresh(): void {
    // One queued evaluation is enough however many reloads and timer ticks arrive while one runs.
    if (this.#queued) return;
    this.#queued = true;
    this.#running = this.#running
      .then(() => {
        this.#queued = false;
        return this.tick();
      })
      .catch((err: unknown) => this.#o.log(`SLO evaluation failed (will retry): ${err instanceof Error ? err.message : String(err)}`));
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
    await this.notifier.idle();
  }
}
