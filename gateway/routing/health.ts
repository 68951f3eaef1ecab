import type { BreakerConfig } from '../../config/schema.js';
import type { ResolvedTarget } from '../runtime/resolve.js';
import { CircuitBreaker } from './breaker.js';
import { HedgeGate } from './hedge.js';

/** EWMA weight of the newest TTFT sample: ~the last 5 samples dominate, so a recovering target is noticed fast. */
const ALPHA = 0.3;
const RECENT = 50;

export interface TargetHealth {
  provider: string;
  model: string;
  breaker: CircuitBreaker;
  /** EWMA of time to first token (streams) or duration (non-stream), ms. */
  ttftEwma: number | undefined;
  /** Last RECENT TTFT samples, for a p95 hedge delay. */
  recent: number[];
}

/**
 * Per-target state that must outlive a config reload (breakers, latency): keyed by
 * provider name, endpoint and model, so an unchanged target keeps its history.
 * Per process: the fast, local feedback loop of DESIGN.md §1.
 */
export class HealthRegistry {
  readonly #targets = new Map<string, TargetHealth>();
  readonly #hedges = new Map<string, HedgeGate>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  static key(t: ResolvedTarget): string {
    return `${t.provider.name}|${t.provider.baseUrl}|${t.model}`;
  }

  get(t: ResolvedTarget, breaker: BreakerConfig): TargetHealth {
    const key = HealthRegistry.key(t);
    let h = this.#targets.get(key);
    if (h === undefined) {
      h = { provider: t.provider.name, model: t.model, breaker: new CircuitBreaker(breaker, this.#now), ttftEwma: undefined, recent: [] };
      this.#targets.set(key, h);
    }
    return h;
  }

  /** Every known target's breaker state, for the keel.breaker.state gauge. */
  breakers(): { provider: string; model: string; state: CircuitBreaker['state'] }[] {
    return [...this.#targets.values()].map((h) => ({ provider: h.provider, model: h.model, state: h.breaker.state }));
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

  observeLatency(h: TargetHealth, ms: number): void {
    h.ttftEwma = h.ttftEwma === undefined ? ms : ALPHA * ms + (1 - ALPHA) * h.ttftEwma;
    h.recent.push(ms);
    if (h.recent.length > RECENT) h.recent.shift();
  }
}
