import type { BreakerConfig } from '../../config/schema.js';
import { extend } from '../objects.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/**
 * Defaults after Helicone's error-ratio monitor and Portkey's cb_config: half of the
 * requests failing over 30 s with at least 10 of them, or 5 failures in a row. Open
 * for 5 s, then one probe at a time, so a provider that recovers is back within seconds.
 */
export const DEFAULT_BREAKER: Required<BreakerConfig> = {
  error_ratio: 0.5,
  min_requests: 10,
  window_s: 30,
  consecutive_failures: 5,
  open_s: 5,
};

const BUCKETS = 10;

/** A route's breaker block over the defaults: what "the same settings" is compared on. */
export function effectiveBreaker(cfg: BreakerConfig): Required<BreakerConfig> {
  return extend(DEFAULT_BREAKER, cfg);
}

export function sameBreakerSettings(a: Required<BreakerConfig>, b: Required<BreakerConfig>): boolean {
  return (Object.keys(DEFAULT_BREAKER) as (keyof BreakerConfig)[]).every((k) => a[k] === b[k]);
}

/**
 * What the request path asks of a breaker. `allow()` is synchronous on purpose: the hot path
 * never waits on shared state (a shared breaker answers from its cached view).
 */
export interface Breaker {
  readonly settings: Readonly<Required<BreakerConfig>>;
  readonly state: BreakerState;
  allow(): boolean;
  record(success: boolean): void;
  release(): void;
  reconfigure(cfg: BreakerConfig): void;
  /** Opens now, whatever the window says: the active health check judged the target dead (gateway/probes). */
  trip(): void;
  /**
   * Takes the half-open slot for a verdict made outside the request path (a probe), then
   * record() or release() it. False when not half-open or the slot is taken. May wait on shared state.
   */
  takeProbe(): Promise<boolean>;
}

/**
 * A circuit breaker for one target of one route, over a sliding window of time buckets. While open,
 * the target gets no traffic; after `open_s` it admits one probe at a time
 * (half-open); a successful probe closes it, a failed one re-opens it.
 */
export class CircuitBreaker implements Breaker {
  #state: BreakerState = 'closed';
  #openedAt = 0;
  #openUntil = 0;
  #probeInFlight = false;
  #consecutive = 0;
  readonly #ok = new Array<number>(BUCKETS).fill(0);
  readonly #bad = new Array<number>(BUCKETS).fill(0);
  #bucketStart = 0;
  #bucket = 0;
  #cfg: Required<BreakerConfig>;
  readonly #now: () => number;

  constructor(cfg: BreakerConfig = {}, now: () => number = Date.now) {
    this.#cfg = effectiveBreaker(cfg);
    this.#now = now;
    this.#bucketStart = now();
  }

  /** The settings in force, defaults filled in. */
  get settings(): Readonly<Required<BreakerConfig>> {
    return this.#cfg;
  }

  /**
   * A reload changed this breaker's settings: applied in place, so the breaker keeps what it
   * knows about its target. Its state stays (an open breaker stays open; the new `open_s` counts
   * from when it opened, so a shorter one takes effect now); the failure streak stays; the window's
   * counts stay unless `window_s` changed (counts over buckets of another width would be read as
   * a rate they never were). New thresholds judge the next verdict.
   */
  reconfigure(cfg: BreakerConfig): void {
    const next = effectiveBreaker(cfg);
    if (next.window_s !== this.#cfg.window_s) {
      this.#ok.fill(0);
      this.#bad.fill(0);
      this.#bucket = 0;
      this.#bucketStart = this.#now();
    }
    this.#cfg = next;
    if (this.#state === 'open') this.#openUntil = this.#openedAt + next.open_s * 1000;
  }

  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() >= this.#openUntil) return 'half_open';
    return this.#state;
  }

  /** May a request go to this target now? A half-open breaker admits one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probeInFlight) return false;
    this.#state = 'half_open';
    this.#probeInFlight = true;
    return true;
  }

  record(success: boolean): void {
    this.#rotate();
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      if (success) this.#close();
      else this.#open();
      return;
    }
    if (success) {
      this.#consecutive = 0;
      this.#ok[this.#bucket] = (this.#ok[this.#bucket] ?? 0) + 1;
      return;
    }
    this.#consecutive++;
    this.#bad[this.#bucket] = (this.#bad[this.#bucket] ?? 0) + 1;
    const bad = this.#bad.reduce((a, b) => a + b, 0);
    const total = bad + this.#ok.reduce((a, b) => a + b, 0);
    if (this.#consecutive >= this.#cfg.consecutive_failures || (total >= this.#cfg.min_requests && bad / total >= this.#cfg.error_ratio)) this.#open();
  }

  /** A probe that never reported (its request was abandoned) must not block probing forever. */
  release(): void {
    this.#probeInFlight = false;
  }

  trip(): void {
    this.#probeInFlight = false;
    this.#open();
  }

  takeProbe(): Promise<boolean> {
    return Promise.resolve(this.state === 'half_open' && this.allow());
  }

  #open(): void {
    this.#state = 'open';
    this.#openedAt = this.#now();
    this.#openUntil = this.#openedAt + this.#cfg.open_s * 1000;
  }

  #close(): void {
    this.#state = 'closed';
    this.#consecutive = 0;
    this.#ok.fill(0);
    this.#bad.fill(0);
  }

  #rotate(): void {
    const width = (this.#cfg.window_s * 1000) / BUCKETS;
    const steps = Math.floor((this.#now() - this.#bucketStart) / width);
    if (steps <= 0) return;
    for (let i = 1; i <= Math.min(steps, BUCKETS); i++) {
      const b = (this.#bucket + i) % BUCKETS;
      this.#ok[b] = 0;
      this.#bad[b] = 0;
    }
    this.#bucket = (this.#bucket + steps) % BUCKETS;
    this.#bucketStart += steps * width;
  }
}
