import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { EffectiveHealthCheck } from '../../config/health-check-schema.js';
import { HealthRegistry } from '../routing/health.js';
import type { Redactor } from '../redact.js';
import type { ResolvedTarget, Runtime } from '../runtime/resolve.js';
import type { SharedState } from '../state/types.js';
import { KeelError } from '../errors.js';
import { Abort } from '../upstream/abort.js';
import { sendProbe } from './send.js';
import type { ProbeObserver, ProbeRecord } from './types.js';
import { outcomeOf, ProbeWindow, type ProbeOutcome } from './verdict.js';

/** The config is re-read at least this often: a target added by a reload is scheduled within it, a removed one stops. */
const RECONCILE_MS = 1000;

export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const REAL_TIMERS: Timers = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ProberOptions {
  /** The config snapshot in force (read on every tick: reloads are followed). */
  runtime: () => Runtime;
  health: HealthRegistry;
  /** A remote store (Redis): one replica probes each target per interval, under a lease. */
  state?: SharedState;
  /** The health registry's clock (traffic times are read on it). */
  now?: () => number;
  timers?: Timers;
  onProbe?: ProbeObserver;
  log?: (msg: string) => void;
  /** The probe itself (tests replace it to script outcomes). */
  send?: (target: ResolvedTarget, hc: EffectiveHealthCheck, redact: Redactor, signal: Abort) => Promise<KeelError | undefined>;
}

interface Scheduled {
  target: ResolvedTarget;
  hc: EffectiveHealthCheck;
  due: number;
  running: boolean;
}

/**
 * Active health checks (synthetic probes) of idle targets. Every target (by HealthRegistry.key)
 * with a `health_check` is probed once per interval unless it had real traffic within it;
 * outcomes feed its breakers on every route listing it (3 failures of the last 5 trip them, a
 * probe that finds one half-open takes its slot and closes or re-opens it). With a remote
 * store, replicas take a lease per target and interval, so the fleet probes a target once.
 */
export class Prober {
  readonly #o: ProberOptions;
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #owner = randomUUID();
  readonly #targets = new Map<string, Scheduled>();
  /** Kept by target key across reloads (and while a target is briefly unconfigured, until its next reconcile). */
  readonly #windows = new Map<string, ProbeWindow>();
  #timer: unknown;
  #stopped = false;
  #failing = false;
  readonly #inFlight = new Set<Promise<void>>();
  /** One per probe under way, aborted by stop(): a closing gateway does not wait out a probe's timeout_ms. */
  readonly #aborts = new Set<Abort>();

  constructor(o: ProberOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#timers = o.timers ?? REAL_TIMERS;
  }

  start(): this {
    this.#tick();
    return this;
  }

  /** Stops scheduling and cuts the probes under way (no verdict, no record); resolves when they have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const a of this.#aborts) a.abort(new KeelError('KEEL_ATTEMPT_CANCELLED', 'the gateway is closing: health check cut'));
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#inFlight]);
  }

  /** Targets being probed, by key (for tests and the log). */
  scheduled(): string[] {
    return [...this.#targets.keys()];
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    let rt: Runtime | undefined;
    try {
      rt = this.#o.runtime();
      this.#reconcile(rt);
      this.#failing = false;
    } catch (err) {
      // Said once, not every second until it reads again.
      if (!this.#failing) this.#o.log?.(`health checks: could not read the config (${err instanceof Error ? err.message : String(err)}); retrying every ${RECONCILE_MS} ms`);
      this.#failing = true;
    }
    const now = this.#now();
    for (const s of this.#targets.values()) {
      if (rt === undefined || s.due > now || s.running) continue;
      s.due = now + s.hc.interval_s * 1000;
      const run = this.#run(s, rt.redact).finally(() => this.#inFlight.delete(run));
      this.#inFlight.add(run);
    }
    const next = Math.min(RECONCILE_MS, ...[...this.#targets.values()].map((s) => s.due - now));
    this.#timer = this.#timers.set(() => this.#tick(), Math.max(0, next));
  }

  /** The targets of this snapshot: new ones first probed one interval from now; the first route listing a target decides its settings. */
  #reconcile(rt: Runtime): void {
    const seen = new Map<string, { target: ResolvedTarget; hc: EffectiveHealthCheck }>();
    for (const route of rt.routes.values()) {
      for (const t of [...route.targets, ...route.fallbacks]) {
        const key = HealthRegistry.key(t);
        if (t.healthCheck !== undefined && !seen.has(key)) seen.set(key, { target: t, hc: t.healthCheck });
      }
    }
    const now = this.#now();
    for (const [key, { target, hc }] of seen) {
      const s = this.#targets.get(key);
      if (s === undefined) this.#targets.set(key, { target, hc, due: now + hc.interval_s * 1000, running: false });
      else {
        // A shorter interval takes effect now, not after the longer one has run out.
        s.due = Math.min(s.due, now + hc.interval_s * 1000);
        s.target = target;
        s.hc = hc;
      }
    }
    for (const key of [...this.#targets.keys()]) {
      if (seen.has(key)) continue;
      this.#targets.delete(key);
      this.#windows.delete(key);
    }
  }

  async #run(s: Scheduled, redact: Redactor): Promise<void> {
    const { target, hc } = s;
    const intervalMs = hc.interval_s * 1000;
    const now = this.#now();
    const traffic = this.#o.health.lastTraffic(target);
    if (hc.only_when_idle && traffic !== undefined && now - traffic <= intervalMs) return;
    s.running = true;
    try {
      if (!(await this.#mine(target, now, intervalMs)) || this.#stopped) return;
      const startedAtMs = Date.now();
      const started = performance.now();
      const send = this.#o.send ?? sendProbe;
      const signal = new Abort();
      this.#aborts.add(signal);
      const error = await send(target, hc, redact, signal).finally(() => this.#aborts.delete(signal));
      if (this.#stopped) return;
      const outcome = outcomeOf(error?.errorClass);
      await this.#judge(target, outcome);
      this.#o.onProbe?.(probeRecord(target, hc, outcome, error, startedAtMs, performance.now() - started));
    } finally {
      s.running = false;
    }
  }

  /**
   * Whether this replica probes `target` this interval. In-process state: always. A remote
   * store: whoever takes the lease named by the target and the interval's number (the
   * lease outlives the interval by nothing, so the next one is free again). Degraded or
   * failing: each replica probes alone, as breakers then judge alone.
   */
  async #mine(target: ResolvedTarget, now: number, intervalMs: number): Promise<boolean> {
    const state = this.#o.state;
    if (state === undefined || state.backend === 'memory' || state.health().degraded) return true;
    const slot = Math.floor(now / intervalMs);
    try {
      return await state.lease(`probe:${encodeURIComponent(HealthRegistry.key(target))}:${slot}`, this.#owner, intervalMs);
    } catch {
      return true;
    }
  }

  /** Feeds the verdict to the target's breakers, on every route. */
  async #judge(target: ResolvedTarget, outcome: ProbeOutcome): Promise<void> {
    if (outcome === 'inconclusive') return;
    const key = HealthRegistry.key(target);
    let window = this.#windows.get(key);
    if (window === undefined) {
      window = new ProbeWindow();
      this.#windows.set(key, window);
    }
    const ok = outcome === 'ok';
    window.push(ok);
    let closed = false;
    let tripped = false;
    for (const breaker of this.#o.health.breakersOf(target)) {
      if (await breaker.takeProbe()) {
        breaker.record(ok);
        closed ||= ok;
      } else if (window.dead && breaker.state === 'closed') {
        breaker.trip();
        tripped = true;
      }
    }
    const name = `${target.provider.name} ${target.model}`;
    if (tripped) this.#o.log?.(`health checks: ${name} failed ${window.failures} of its last ${window.size} probes; its breakers are open`);
    if (closed) {
      window.reset();
      this.#o.log?.(`health checks: ${name} answered a probe; its breakers are closed again`);
    }
  }
}

function probeRecord(target: ResolvedTarget, hc: EffectiveHealthCheck, outcome: ProbeOutcome, error: KeelError | undefined, startedAtMs: number, durationMs: number): ProbeRecord {
  const p = target.provider;
  return {
    provider: p.name,
    providerName: p.genAiName,
    model: target.model,
    address: p.address,
    port: p.port,
    method: hc.method,
    outcome,
    errorClass: error?.errorClass,
    errorCode: error?.code,
    startedAtMs,
    durationMs,
  };
}
