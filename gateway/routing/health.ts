import { randomUUID } from 'node:crypto';
import type { BreakerConfig } from '../../config/schema.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import type { SharedState } from '../state/types.js';
import { CircuitBreaker, effectiveBreaker, sameBreakerSettings, type Breaker, type BreakerState } from './breaker.js';
import { HedgeGate } from './hedge.js';
import { SharedBreaker } from './shared-breaker.js';
import type { ErrorClass } from '../errors.js';
import { countsAgainstTarget } from './classify.js';
import { TargetWindow, type TargetStats } from './window.js';

/** HealthRegistry.key per target object (targets are immutable, per config snapshot). */
const targetKeys = new WeakMap<ResolvedTarget, string>();

/** How often shared breakers with traffic (or not closed) re-read the fleet's verdict: what another replica decided reaches this one within it. */
const REFRESH_MS = 250;

/** EWMA weight of the newest TTFT sample: ~the last 5 samples dominate, so a recovering target is noticed fast. */
const ALPHA = 0.3;
const RECENT = 50;

/**
 * How fast a target answers. Kept per target, not per route: the EWMA measures the
 * provider's speed, which is the same whichever route sent the request, so every route
 * learns from all of them.
 */
export interface TargetLatency {
  /** EWMA of time to first token (streams) or duration (non-stream), ms. */
  ttftEwma: number | undefined;
  /** Last RECENT TTFT samples, for a p95 hedge delay. */
  recent: number[];
}

interface BreakerEntry {
  route: string;
  provider: string;
  model: string;
  breaker: Breaker;
}

export interface HealthOptions {
  /**
   * Where breakers live. Absent or in-process (`memory`): each breaker is a CircuitBreaker, the
   * single-replica breaker (the in-process store could only hold the same verdicts, one await
   * later). A remote store (Redis): each is a SharedBreaker, the fleet's verdict.
   */
  state?: SharedState;
  /** Where the one line per change of sharing goes (the store going away, coming back). */
  log?: (msg: string) => void;
}

/**
 * The fast feedback loop of DESIGN.md §1. Latency and hedge budgets are per process; breakers
 * too, unless a remote shared store is given, when each breaker's verdict is the fleet's
 * (SharedBreaker) and this registry refreshes their cached views. Breakers are per (route,
 * target): each route's `breaker:` settings judge its own traffic, so two routes sharing a
 * target never share the first one's thresholds. Latency is per target (see TargetLatency).
 * Both outlive a config reload: targets are keyed by provider name, endpoint and model, so an
 * unchanged target keeps its history, and apply() reconciles breakers with each new config.
 */
export class HealthRegistry {
  readonly #breakers = new Map<string, BreakerEntry>();
  readonly #latency = new Map<string, TargetLatency>();
  readonly #hedges = new Map<string, HedgeGate>();
  /** Per target, what routing rules read (window.ts). */
  readonly #windows = new Map<string, TargetWindow>();
  /** When a real request's attempt on each target (by key) last settled: the active health check leaves busy targets alone. */
  readonly #traffic = new Map<string, number>();
  readonly #now: () => number;
  /** The config version apply() last reconciled with (0: never; breakers are then made on first use). */
  #applied = 0;
  readonly #state: SharedState | undefined;
  readonly #log: (msg: string) => void;
  /** This replica, as the owner of probe leases. */
  readonly #owner = randomUUID();
  #sync: NodeJS.Timeout | undefined;
  #degraded = false;
  #syncErrors = 0;

  constructor(now: () => number = Date.now, o: HealthOptions = {}) {
    this.#now = now;
    this.#state = o.state?.backend === 'memory' ? undefined : o.state;
    this.#log = o.log ?? (() => undefined);
  }

  /** Shared-state calls of the breakers that failed (swallowed: requests never see them). */
  get syncErrors(): number {
    return this.#syncErrors;
  }

  /** Stops the background refresh (the process exits anyway: the timer is unref'd). */
  close(): void {
    clearInterval(this.#sync);
    this.#sync = undefined;
  }

  #make(route: string, t: ResolvedTarget, cfg: BreakerConfig, probeTtlMs: number): Breaker {
    const state = this.#state;
    if (state === undefined) return new CircuitBreaker(cfg, this.#now);
    this.#startSync(state);
    const id = `breaker:${encodeURIComponent(route)}:${encodeURIComponent(HealthRegistry.key(t))}`;
    return new SharedBreaker(cfg, { state, owner: this.#owner, id, probeTtlMs, now: this.#now, onError: () => void this.#syncErrors++ });
  }

  #startSync(state: SharedState): void {
    if (this.#sync !== undefined) return;
    this.#sync = setInterval(() => this.#tick(state), REFRESH_MS);
    this.#sync.unref();
  }

  /** Refreshes the breakers that matter, claims probes where this replica has traffic, and says once when sharing stops or resumes. */
  #tick(state: SharedState): void {
    const degraded = state.health().degraded;
    if (degraded !== this.#degraded) {
      this.#degraded = degraded;
      this.#log(degraded ? 'breakers: shared state unavailable; each replica judges its targets alone until it is back' : 'breakers: shared state back; breakers follow the fleet again');
    }
    if (degraded) return;
    const now = this.#now();
    for (const { breaker } of this.#breakers.values()) {
      if (!(breaker instanceof SharedBreaker) || !breaker.active(now)) continue;
      void breaker.refresh();
      if (breaker.wantsProbe(now)) void breaker.claim();
    }
  }

  /** One target, whichever routes list it. */
  static key(t: ResolvedTarget): string {
    // Asked several times per attempt (tried set, latency, outcome, windows, breaker): built once per target of a snapshot.
    let k = targetKeys.get(t);
    if (k === undefined) targetKeys.set(t, (k = `${t.provider.name}|${t.provider.baseUrl}|${t.model}`));
    return k;
  }

  static #breakerKey(route: string, t: ResolvedTarget): string {
    // A newline cannot hide in a provider name or URL, so the two parts never run together.
    return `${route}\n${HealthRegistry.key(t)}`;
  }

  /** The breaker of `t` on `route`. */
  breaker(route: ResolvedRoute, t: ResolvedTarget): Breaker {
    const key = HealthRegistry.#breakerKey(route.name, t);
    const found = this.#breakers.get(key);
    if (found !== undefined) return found.breaker;
    const breaker = this.#make(route.name, t, route.breaker, route.timeouts.total_ms);
    // After a reload removed this route or target, a request still on the older snapshot is
    // judged on a breaker of its own: kept, it would haunt the gauge with a route that is gone.
    if (this.#applied === 0) this.#breakers.set(key, { route: route.name, provider: t.provider.name, model: t.model, breaker });
    return breaker;
  }

  /**
   * Reconciles breakers with a new config snapshot (called once per snapshot, in version order):
   * unchanged settings keep the breaker as it is; changed ones are applied in place
   * (CircuitBreaker.reconfigure keeps its state); routes and targets no longer configured go.
   */
  apply(routes: Iterable<ResolvedRoute>, version: number): void {
    if (version <= this.#applied) return;
    this.#applied = version;
    const keep = new Set<string>();
    for (const route of routes) {
      const settings = effectiveBreaker(route.breaker);
      for (const t of [...route.targets, ...route.fallbacks]) {
        const key = HealthRegistry.#breakerKey(route.name, t);
        keep.add(key);
        const entry = this.#breakers.get(key);
        if (entry === undefined) this.#breakers.set(key, { route: route.name, provider: t.provider.name, model: t.model, breaker: this.#make(route.name, t, settings, route.timeouts.total_ms) });
        else if (!sameBreakerSettings(entry.breaker.settings, settings)) entry.breaker.reconfigure(settings);
      }
    }
    for (const key of [...this.#breakers.keys()]) if (!keep.has(key)) this.#breakers.delete(key);
  }

  /** Every breaker's state, for the keel.breaker.state gauge. */
  breakers(): { route: string; provider: string; model: string; state: BreakerState }[] {
    return [...this.#breakers.values()].map((e) => ({ route: e.route, provider: e.provider, model: e.model, state: e.breaker.state }));
  }

  latency(t: ResolvedTarget): TargetLatency {
    const key = HealthRegistry.key(t);
    let l = this.#latency.get(key);
    if (l === undefined) {
      l = { ttftEwma: undefined, recent: [] };
      this.#latency.set(key, l);
    }
    return l;
  }

  observeLatency(t: ResolvedTarget, ms: number): void {
    const l = this.latency(t);
    l.ttftEwma = l.ttftEwma === undefined ? ms : ALPHA * ms + (1 - ALPHA) * l.ttftEwma;
    l.recent.push(ms);
    if (l.recent.length > RECENT) l.recent.shift();
    this.#window(t).ttft(ms);
  }

  /**
   * One real request's attempt on `t` settled now (cls undefined: it succeeded): the time is
   * kept for the active health check, which leaves busy targets alone; for routing rules only
   * what judges the target is kept (successes and provider failures; a caller's fault or Keel's
   * says nothing about it). Probes never call it.
   */
  observeOutcome(t: ResolvedTarget, cls: ErrorClass | undefined): void {
    const key = HealthRegistry.key(t);
    this.#traffic.set(key, this.#now());
    if (cls === undefined || countsAgainstTarget(cls)) this.#windowOf(key).outcome(cls !== undefined);
  }

  /** `t`'s recent TTFT samples and outcomes, for routing rules. */
  targetStats(t: ResolvedTarget): TargetStats {
    return this.#window(t).stats();
  }

  #window(t: ResolvedTarget): TargetWindow {
    return this.#windowOf(HealthRegistry.key(t));
  }

  #windowOf(key: string): TargetWindow {
    let w = this.#windows.get(key);
    if (w === undefined) {
      w = new TargetWindow(this.#now);
      this.#windows.set(key, w);
    }
    return w;
  }

  /** When `t` last had real traffic (ms, this registry's clock); undefined: never, in this process. */
  lastTraffic(t: ResolvedTarget): number | undefined {
    return this.#traffic.get(HealthRegistry.key(t));
  }

  /** Every breaker of `t`, on whichever routes list it: a probe's verdict is about the target, so it goes to all. */
  breakersOf(t: ResolvedTarget): Breaker[] {
    const suffix = `\n${HealthRegistry.key(t)}`;
    return [...this.#breakers.entries()].filter(([k]) => k.endsWith(suffix)).map(([, e]) => e.breaker);
  }

  /** The hedge budget of one route (by name). */
  hedgeGate(route: string): HedgeGate {
    let gate = this.#hedges.get(route);
    if (gate === undefined) {
      gate = new HedgeGate(this.#now);
      this.#hedges.set(route, gate);
    }
    return gate;
  }
}
