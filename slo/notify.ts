import type { AlertingConfig, SloSpec } from '../config/slo-schema.js';
import type { AlertKind, AlertState, Transition } from './alerts.js';
import { budgetAlertmanagerBody, budgetIdempotencyKey, budgetSummary, budgetWebhookBody } from './budget-notify.js';
import type { BudgetCrossing } from './budgets.js';
import type { Evaluation } from './math.js';

export interface AlertNotice {
  spec: SloSpec;
  kind: AlertKind;
  transition: Exclude<Transition, 'pending'>;
  /** When it fired (stable across re-sends and the resolve). */
  startsAt: number;
  at: number;
  evaluation: Evaluation;
}

export interface NotifierOptions {
  /** The engine's evaluation interval (endsAt leaves room for two missed evaluations). */
  intervalMs: number;
  retries: number;
  retryBaseMs: number;
  /** Link back from the alert (the status page). */
  generatorURL: string;
  log: (msg: string) => void;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export function alertLabels(spec: SloSpec, kind: AlertKind): Record<string, string> {
  return {
    alertname: kind === 'absent' ? 'KeelSLONoData' : 'KeelSLOBurnRate',
    slo: spec.name,
    severity: kind === 'absent' ? 'ticket' : kind,
    ...(spec.scope.route === undefined ? {} : { route: spec.scope.route }),
    ...(spec.scope.provider === undefined ? {} : { provider: spec.scope.provider }),
  };
}

export function summary(n: Pick<AlertNotice, 'spec' | 'kind' | 'transition' | 'evaluation'>): string {
  const what = n.kind === 'absent' ? 'has had no events' : `is burning its error budget (${n.kind})`;
  if (n.transition === 'resolved') return `RESOLVED: SLO ${n.spec.name} ${n.kind === 'absent' ? 'has events again' : 'is back within its burn-rate limits'}`;
  const burns = n.evaluation.pairs.filter((p) => p.severity === n.kind).map((p) => `${p.pair} ×${p.longBurn.toFixed(1)}/×${p.shortBurn.toFixed(1)} (limit ×${p.factor})`);
  return `SLO ${n.spec.name} ${what}: ${pct(n.evaluation.remaining)} of budget left, objective ${n.spec.objective}%${burns.length > 0 ? `; burn ${burns.join(', ')}` : ''}`;
}

type PostOptions = Pick<NotifierOptions, 'retries' | 'retryBaseMs' | 'log'>;

async function post(url: string, body: unknown, headers: Record<string, string>, o: PostOptions): Promise<boolean> {
  for (let attempt = 0; attempt <= o.retries; attempt++) {
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      if (res.ok) return true;
      // A 4xx other than 429 will not pass on a retry: the payload or the URL is wrong.
      if (res.status < 500 && res.status !== 429) {
        o.log(`alert delivery to ${new URL(url).host} refused with ${res.status}; not retried`);
        return false;
      }
    } catch {
      // network error: retried
    }
    if (attempt < o.retries) await new Promise((r) => setTimeout(r, o.retryBaseMs * 2 ** attempt));
  }
  o.log(`alert delivery to ${new URL(url).host} failed after ${o.retries + 1} attempts`);
  return false;
}

/**
 * Sends alert transitions to every receiver: Alertmanager gets the Prometheus client
 * protocol (re-sent while firing with a moving endsAt, endsAt = resolve time at the end;
 * it deduplicates by labels); webhooks and Slack get each transition once, retried with
 * backoff until accepted, with an idempotency key so a receiver can drop a repeat.
 * Receivers and the re-send period are read at each delivery, so a config reload reaches the
 * next one; deliveries already under way finish where they were going.
 */
export class Notifier {
  readonly #alerting: () => Pick<AlertingConfig, 'receivers' | 'resend_s'>;
  readonly #o: NotifierOptions;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #lastSent = new Map<string, number>();

  constructor(alerting: () => Pick<AlertingConfig, 'receivers' | 'resend_s'>, o: NotifierOptions) {
    this.#alerting = alerting;
    this.#o = o;
  }

  get #resendMs(): number {
    return this.#alerting().resend_s * 1000;
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    void p.finally(() => this.#inFlight.delete(p));
  }

  #alertmanagerBody(n: AlertNotice): unknown[] {
    // Firing: a moving end leaves room for two missed evaluations (what Prometheus does).
    // Resolved: it ended now, by the wall clock Alertmanager judges endsAt against.
    const endsAt = n.transition === 'resolved' ? Math.min(n.at, Date.now()) : n.at + 4 * Math.max(this.#o.intervalMs, this.#resendMs);
    // Never a start in Alertmanager's future (it would refuse the resolve that ends before it).
    const startsAt = Math.min(n.startsAt, Date.now());
    return [{ labels: alertLabels(n.spec, n.kind), annotations: { summary: summary(n), description: n.spec.description ?? '' }, startsAt: new Date(startsAt).toISOString(), endsAt: new Date(Math.max(endsAt, startsAt)).toISOString(), generatorURL: this.#o.generatorURL }];
  }

  notify(n: AlertNotice): void {
    this.#lastSent.set(`${n.spec.name}|${n.kind}`, n.at);
    for (const r of this.#alerting().receivers) {
      if (r.type === 'alertmanager') this.#track(post(`${r.url.replace(/\/+$/, '')}/api/v2/alerts`, this.#alertmanagerBody(n), {}, this.#o));
      else if (r.type === 'webhook') {
        const body = { status: n.transition, slo: n.spec.name, kind: n.kind, labels: alertLabels(n.spec, n.kind), summary: summary(n), startsAt: new Date(n.startsAt).toISOString(), at: new Date(n.at).toISOString(), budgetRemaining: n.evaluation.remaining, burnRates: n.evaluation.pairs };
        this.#track(post(r.url, body, { ...r.headers, 'idempotency-key': `${n.spec.name}|${n.kind}|${n.startsAt}|${n.transition}` }, this.#o));
      } else this.#track(post(r.url, { text: summary(n) }, {}, this.#o));
    }
  }

  /** A budget crossing, once to every receiver in force (slo/budget-notify.ts says what each gets). */
  budget(c: BudgetCrossing): void {
    for (const r of this.#alerting().receivers) {
      if (r.type === 'alertmanager') this.#track(post(`${r.url.replace(/\/+$/, '')}/api/v2/alerts`, budgetAlertmanagerBody(c, this.#o.generatorURL), {}, this.#o));
      else if (r.type === 'webhook') this.#track(post(r.url, budgetWebhookBody(c), { ...r.headers, 'idempotency-key': budgetIdempotencyKey(c) }, this.#o));
      else this.#track(post(r.url, { text: budgetSummary(c) }, {}, this.#o));
    }
  }

  /** Alertmanager forgets alerts it stops hearing about: re-send the firing ones every resend period. */
  resend(firing: readonly { alert: AlertState; spec: SloSpec; evaluation: Evaluation }[], now: number): void {
    const { receivers } = this.#alerting();
    for (const f of firing) {
      const key = `${f.spec.name}|${f.alert.kind}`;
      if (now - (this.#lastSent.get(key) ?? 0) < this.#resendMs) continue;
      this.#lastSent.set(key, now);
      const n: AlertNotice = { spec: f.spec, kind: f.alert.kind, transition: 'firing', startsAt: f.alert.firedAt ?? now, at: now, evaluation: f.evaluation };
      for (const r of receivers) if (r.type === 'alertmanager') this.#track(post(`${r.url.replace(/\/+$/, '')}/api/v2/alerts`, this.#alertmanagerBody(n), {}, this.#o));
    }
  }

  /** Resolves when every delivery started so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
