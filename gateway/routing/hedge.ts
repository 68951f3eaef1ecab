import type { HedgeConfig } from '../../config/schema.js';
import type { TargetLatency } from './health.js';

/** The share is measured over the last minute: long enough to be stable, short enough to follow load. */
const WINDOW_MS = 60_000;
const BUCKETS = 6;

/**
 * Bounds the extra cost of hedging: a route may hedge at most `max_share` of its
 * requests over the last minute, plus one, so a quiet route can still hedge.
 */
export class HedgeGate {
  readonly #requests = new Array<number>(BUCKETS).fill(0);
  readonly #hedges = new Array<number>(BUCKETS).fill(0);
  #bucket = 0;
  #bucketStart: number;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#bucketStart = now();
  }

  request(): void {
    this.#rotate();
    this.#requests[this.#bucket] = (this.#requests[this.#bucket] ?? 0) + 1;
  }

  /** Takes a hedge slot if the share allows one. */
  tryHedge(maxShare: number): boolean {
    this.#rotate();
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    if (sum(this.#hedges) + 1 > maxShare * sum(this.#requests) + 1) return false;
    this.#hedges[this.#bucket] = (this.#hedges[this.#bucket] ?? 0) + 1;
    return true;
  }

  #rotate(): void {
    const width = WINDOW_MS / BUCKETS;
    const steps = Math.floor((this.#now() - this.#bucketStart) / width);
    if (steps <= 0) return;
    for (let i = 1; i <= Math.min(steps, BUCKETS); i++) {
      const b = (this.#bucket + i) % BUCKETS;
      this.#requests[b] = 0;
      this.#hedges[b] = 0;
    }
    this.#bucket = (this.#bucket + steps) % BUCKETS;
    this.#bucketStart += steps * width;
  }
}

/** How long to wait for the primary's first token before hedging; undefined = do not hedge (no p95 yet). */
export function hedgeDelay(cfg: HedgeConfig, primary: TargetLatency): number | undefined {
  return cfg.after_ms === 'p95' ? p95(primary.recent) : cfg.after_ms;
}

export function p95(samples: readonly number[]): number | undefined {
  if (samples.length < 5) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
}
