import { checkAdjust, checkRate, checkReserve, checkSettle } from './governance.js';
import { MemoryState } from './memory.js';
import { StateDeadlineError } from './redis.js';
import type { AdmitResult, GovernanceState, RateResult, RateScope, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, SharedState, StateHealth } from './types.js';

/** A remote backend that can say whether it is back (RedisState). */
export interface RemoteState extends GovernanceState {
  ping(): Promise<boolean>;
}

export interface ResilientOptions {
  log: (msg: string) => void;
  /** How often a degraded replica checks whether the remote is back. */
  probeMs?: number;
  now?: () => number;
}

/** Counters counted locally while degraded are replayed into the remote on recovery; bounded so an outage cannot grow memory. */
const MAX_PENDING_KEYS = 10_000;

/**
 * Deadline misses in a row before the replica flips to local state. One late answer is a blip
 * (that call falls back alone); three in a row mean Redis is in trouble. A connection error
 * flips at once: nothing can be answered until it is back.
 */
const MISSES_TO_DEGRADE = 3;

/**
 * A request never fails because shared state is slow or gone (DESIGN.md §9). Every call goes
 * to the remote (Redis, whose own command deadline bounds it); a connection failure, or
 * MISSES_TO_DEGRADE deadline misses in a row, flips the replica to its local state, logged once and visible in health(), and a background probe flips
 * it back. Counter increments made while degraded are added to the remote on recovery, so
 * shared totals (spend, counted rates) include what this replica counted alone; so are the
 * amounts of reservations admitted locally. Leases, compare-and-set values and GCRA TATs taken
 * locally stay local: they meant nothing to the other replicas, and a TAT replayed later would
 * charge the fleet again for time that has already passed. While degraded, each replica
 * enforces every budget and rate limit on its own (N replicas: up to N times the limit).
 */
export class ResilientState implements GovernanceState {
  readonly #remote: RemoteState;
  readonly #local: MemoryState;
  readonly #o: ResilientOptions;
  #degradedSince: number | undefined;
  #fallbacks = 0;
  #misses = 0;
  readonly #pending = new Map<string, { delta: number; ttlMs: number }>();
  #probe: NodeJS.Timeout | undefined;

  constructor(remote: RemoteState, o: ResilientOptions) {
    this.#remote = remote;
    this.#o = o;
    this.#local = new MemoryState(o.now);
  }

  get backend(): SharedState['backend'] {
    return this.#remote.backend;
  }

  health(): StateHealth {
    return { backend: this.#remote.backend, degraded: this.#degradedSince !== undefined, since: this.#degradedSince, fallbacks: this.#fallbacks, pendingResync: this.#pending.size };
  }

  async #call<T>(remote: () => Promise<T>, local: () => Promise<T>): Promise<T> {
    if (this.#degradedSince === undefined) {
      try {
        const v = await remote();
        this.#misses = 0;
        return v;
      } catch (err) {
        if (!(err instanceof StateDeadlineError) || ++this.#misses >= MISSES_TO_DEGRADE) this.#degrade(err);
      }
    }
    this.#fallbacks++;
    return local();
  }

  #degrade(err: unknown): void {
    if (this.#degradedSince !== undefined) return;
    this.#degradedSince = (this.#o.now ?? Date.now)();
    this.#o.log(`shared state: ${this.#remote.backend} unreachable (${err instanceof Error ? err.message : String(err)}); serving on this replica's local state until it is back`);
    this.#probe = setInterval(() => void this.#tryRecover(), this.#o.probeMs ?? 1000);
    this.#probe.unref();
  }

  async #tryRecover(): Promise<void> {
    const up = await this.#remote.ping().catch(() => false);
    if (!up || this.#degradedSince === undefined) return;
    clearInterval(this.#probe);
    this.#probe = undefined;
    const pending = [...this.#pending];
    this.#pending.clear();
    this.#degradedSince = undefined;
    this.#misses = 0;
    let replayed = 0;
    for (const [key, p] of pending) {
      if (await this.#remote.incr(key, p.delta, p.ttlMs).then(() => true, () => false)) replayed++;
    }
    this.#o.log(`shared state: ${this.#remote.backend} reachable again; ${replayed} of ${pending.length} local counters added back`);
  }

  incr(key: string, by: number, ttlMs: number): Promise<number> {
    return this.#call(
      () => this.#remote.incr(key, by, ttlMs),
      () => {
        this.#addPending(key, by, ttlMs);
        return this.#local.incr(key, by, ttlMs);
      },
    );
  }

  /** Counts a local increment for replay on recovery. A lone deadline miss (not degraded) is not replayed: Redis most likely counted it. */
  #addPending(key: string, by: number, ttlMs: number): void {
    if (this.#degradedSince === undefined) return;
    const p = this.#pending.get(key);
    if (p !== undefined) p.delta += by;
    else if (this.#pending.size < MAX_PENDING_KEYS) this.#pending.set(key, { delta: by, ttlMs });
  }

  async reserve(scopes: readonly ReserveScope[]): Promise<ReserveResult> {
    // Checked here too, so that a caller's bad argument is never taken for an outage.
    checkReserve(scopes);
    return this.#call(
      () => this.#remote.reserve(scopes),
      async () => {
        const r = await this.#local.reserve(scopes);
        if (r.ok) for (const s of scopes) this.#addPending(s.add, s.amount, s.ttlMs);
        return r;
      },
    );
  }

  async rate(scopes: readonly RateScope[]): Promise<RateResult> {
    checkRate(scopes);
    return this.#call(() => this.#remote.rate(scopes), () => this.#local.rate(scopes));
  }

  async rateAdjust(key: string, intervalMs: number, delta: number): Promise<void> {
    checkAdjust(intervalMs, delta);
    return this.#call(() => this.#remote.rateAdjust(key, intervalMs, delta), () => this.#local.rateAdjust(key, intervalMs, delta));
  }

  /** Like rate() and reserve(): a reservation admitted locally while degraded is added back on recovery, its TATs are not. */
  async admit(rate: readonly RateScope[], reserve: readonly ReserveScope[]): Promise<AdmitResult> {
    checkRate(rate);
    checkReserve(reserve);
    return this.#call(
      () => this.#remote.admit(rate, reserve),
      async () => {
        const r = await this.#local.admit(rate, reserve);
        if (r.ok) for (const s of reserve) this.#addPending(s.add, s.amount, s.ttlMs);
        return r;
      },
    );
  }

  /** Like rateAdjust() and incr(): the counters' part is added back on recovery, the TATs' is not. */
  async settle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): Promise<void> {
    checkSettle(adjust, incr);
    return this.#call(
      () => this.#remote.settle(adjust, incr),
      async () => {
        for (const c of incr) this.#addPending(c.key, c.by, c.ttlMs);
        await this.#local.settle(adjust, incr);
      },
    );
  }

  get(key: string): Promise<string | undefined> {
    return this.#call(() => this.#remote.get(key), () => this.#local.get(key));
  }

  getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#call(() => this.#remote.getMany(keys), () => this.#local.getMany(keys));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#call(() => this.#remote.set(key, value, ttlMs), () => this.#local.set(key, value, ttlMs));
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    return this.#call(() => this.#remote.compareAndSet(key, expected, value, ttlMs), () => this.#local.compareAndSet(key, expected, value, ttlMs));
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#call(() => this.#remote.lease(name, owner, ttlMs), () => this.#local.lease(name, owner, ttlMs));
  }

  release(name: string, owner: string): Promise<void> {
    return this.#call(() => this.#remote.release(name, owner), () => this.#local.release(name, owner));
  }

  async close(): Promise<void> {
    if (this.#probe !== undefined) clearInterval(this.#probe);
    await this.#remote.close();
    await this.#local.close();
  }
}
