import type { ClickHouseClient } from '@clickhouse/client';
import type { AuditSink } from '../config/audit.js';
import type { AlertingConfig, SloSpec } from '../config/slo-schema.js';
import { insertRows } from '../store/index.js';
import { AlertBook, type AlertChange, type AlertKind, type AlertState } from './alerts.js';
import { BudgetWatch } from './budget-watch.js';
import type { BudgetCrossing, BudgetFired, BudgetSpec } from './budgets.js';
import { evaluateAll, type SloResult } from './engine.js';
import type { Leadership, SharedSnapshot } from './leader.js';
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
  /** Among several collectors only the lease holder evaluates and notifies (slo/leader.ts); absent: always. */
  leadership?: Leadership;
  /** The budgets in force (auth.keys, teams, customers; read each tick); absent: none. */
  budgets?: () => readonly BudgetSpec[];
  /** Called after each evaluation this engine led, with the alerts it holds and the budget thresholds told (the leader publishes them for followers). */
  onEvaluated?: (snap: SloSnapshot, alerts: AlertState[], budgets: BudgetFired[]) => Promise<void>;
  /** This engine has just taken leadership over; what the previous leader last published, if anything. */
  onTakeover?: (shared: SharedSnapshot | undefined) => void;
  /** Alerts fired and resolved go to the audit log too (pending ones do not: nobody was told). */
  audit?: AuditSink;
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
  readonly #budgets: BudgetWatch;
  readonly notifier: Notifier;
  #timer: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();
  #queued = false;
  #latest: SloSnapshot = { at: 0, results: [], firing: [] };
  #leading = false;

  constructor(o: SloLoopOptions) {
    this.#o = o;
    this.#book = new AlertBook(() => o.alerting().pending_s * 1000);
    this.#budgets = new BudgetWatch(o.client, o.budgets ?? (() => []));
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

  get leading(): boolean {
    return this.#leading;
  }

  /**
   * Renews leadership. Taking over adopts the alerts the last leader published, so what it had
   * firing stays firing here (no second page, same idempotency keys); losing it forgets ours,
   * since the leader now owns them and may resolve them without us.
   */
  async #lead(): Promise<boolean> {
    const leads = (await this.#o.leadership?.renew()) ?? true;
    if (leads && !this.#leading) {
      const shared = await this.#o.leadership?.shared().catch(() => undefined);
      this.#book.adopt(shared?.alerts ?? []);
      this.#budgets.adopt(shared?.budgets ?? []);
      this.#o.onTakeover?.(shared);
    }
    if (!leads && this.#leading) {
      this.#book.clear();
      this.#budgets.clear();
      this.#latest = { at: 0, results: [], firing: [] };
    }
    this.#leading = leads;
    return leads;
  }

  async tick(): Promise<SloSnapshot> {
    if (!(await this.#lead())) return this.#latest;
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
    const crossings = await this.#budgetCrossings(now);
    const firing = this.#book.firing();
    this.#latest = { at: now, results, firing };
    // Published before anything is delivered, so a successor taking over mid-flap adopts these
    // alerts and does not page them again. A leader killed between the two leaves a page
    // undelivered to webhooks; Alertmanager still gets it from the successor's re-sends.
    await this.#o.onEvaluated?.(this.#latest, this.#book.active(), this.#budgets.fired());
    if (this.#o.leadership !== undefined && !this.#o.leadership.holds()) {
      this.#o.log('SLO leadership: the lease lapsed during this evaluation; its notifications are left to whoever leads now');
      return this.#latest;
    }
    for (const { change, result } of changes) {
      if (change.transition === 'pending') continue;
      this.notifier.notify({ spec: result.spec, kind: change.alert.kind, transition: change.transition, startsAt: change.alert.firedAt ?? change.alert.since, at: now, evaluation: result.evaluation });
    }
    for (const c of crossings) this.notifier.budget(c);
    const bySlo = new Map(results.map((r) => [r.spec.name, r]));
    this.notifier.resend(
      firing.flatMap((alert) => {
        const r = bySlo.get(alert.slo);
        return r === undefined ? [] : [{ alert, spec: r.spec, evaluation: r.evaluation }];
      }),
      now,
    );
    return this.#latest;
  }

  /** Budget crossings to tell; a failed read is logged and leaves the SLOs' evaluation standing (the next tick reads again). */
  async #budgetCrossings(now: number): Promise<BudgetCrossing[]> {
    try {
      return await this.#budgets.evaluate(now);
    } catch (err) {
      this.#o.log(`budget evaluation failed (will retry): ${err instanceof Error ? err.message : String(err)}`);
      return [];
    }
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
    // Written once alert_events has them, so the audit never says more than the alert history.
    const told = rows.filter((r) => r.transition !== 'pending');
    if (told.length > 0) this.#o.audit?.(told.map((r) => ({ event: r.transition === 'resolved' ? 'slo_alert_resolved' : 'slo_alert_fired', subject: r.slo, detail: { kind: r.kind, summary: r.summary, budget_remaining: r.budget_remaining } })), changes[0]?.change.at);
  }

  start(): void {
    this.#timer = setInterval(() => this.refresh(), this.#o.intervalMs);
    this.#timer.unref();
    // A follower asks for the lease every quarter interval, not only at its evaluations, so it
    // takes over soon after a dead leader's lease lapses (slo/leader.ts openLeadership).
    if (this.#o.leadership !== undefined) {
      this.#poll = setInterval(() => {
        if (!this.#leading) this.refresh();
      }, Math.max(1, Math.floor(this.#o.intervalMs / 4)));
      this.#poll.unref();
    }
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
    if (this.#poll !== undefined) clearInterval(this.#poll);
    await this.#running;
    await this.notifier.idle();
  }
}
