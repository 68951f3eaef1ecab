/**
 * What gateway replicas share (DESIGN.md §9): counters with expiry, small values with a TTL,
 * compare-and-set, and leases. One interface, two backends: in-process for one replica (the
 * default, no server) and Redis for several. No feature talks to Redis directly.
 */
export interface StateHealth {
  backend: 'memory' | 'redis';
  /** The remote is unreachable: this replica serves on its own local state. */
  degraded: boolean;
  /** Since when (ms epoch), while degraded. */
  since: number | undefined;
  /** Calls answered locally because the remote failed or was away. */
  fallbacks: number;
  /** Counter increments made locally while degraded, not yet added to the remote. */
  pendingResync: number;
  /** Admissions answered from local leases and those that went to the shared state (leases.ts). */
  admissions?: { lease: number; shared: number };
}

export interface SharedState {
  readonly backend: 'memory' | 'redis';
  /** For /readyz and the keel_state_degraded gauge. */
  health(): StateHealth;
  /** Adds `by` to a counter that expires `ttlMs` after it was created; resolves to the new total. */
  incr(key: string, by: number, ttlMs: number): Promise<number>;
  get(key: string): Promise<string | undefined>;
  /** Several values in one round trip (a breaker's window is ten counters); undefined where absent. */
  getMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  /** Stores a small value for `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Replaces the value only while it is still `expected` (undefined: absent); true when it did. */
  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  /** Takes the lease `name` for `owner`, or renews it when `owner` holds it; false while another holds it. */
  lease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, when `owner` still holds it. */
  release(name: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/** One scope of a budget reservation (a key's, its team's, its customer's budget). */
export interface ReserveScope {
  /** The counter that receives `amount` (e.g. the current bucket of the period). */
  add: string;
  /** Counters whose sum is the scope's spend so far; includes `add` (rolling windows sum several buckets). */
  window: readonly string[];
  amount: number;
  /** The spend may reach `limit` but not exceed it. */
  limit: number;
  /** Expiry of `add` when it is created. */
  ttlMs: number;
}

export type ReserveResult = { ok: true; totals: number[] } | { ok: false; over: number; totals: number[] };

/** One scope of a rate limit: GCRA (generic cell rate algorithm) on a theoretical arrival time stored under `key`. */
export interface RateScope {
  key: string;
  /** ms of "emission interval" one unit costs: 60000 / rpm for requests, 60000 / tpm for tokens. */
  intervalMs: number;
  /** Burst tolerance in ms: how far ahead of now the TAT may run before a unit's own interval (burst_s * 1000). */
  burstMs: number;
  /** Units this request costs (1 for requests, the token estimate for tokens); not negative. */
  cost: number;
}

export interface RateState {
  /** Units that would be admitted now. */
  remaining: number;
  /** ms until the TAT is back to now (fully replenished). */
  resetMs: number;
}

export type RateResult = { ok: true; states: RateState[] } | { ok: false; over: number; retryAfterMs: number; states: RateState[] };

/**
 * admit(): `states` per rate scope (advanced when ok, as found when not) and `totals` per budget
 * scope (after when ok, as found when not), whichever kind refused. `refused` names the kind,
 * `over` the index of the first refusing scope among that kind's; rate is judged first (a
 * request over both is refused for its rate, with the longest wait in `retryAfterMs`).
 */
export type AdmitResult =
  | { ok: true; states: RateState[]; totals: number[] }
  | { ok: false; refused: 'rate'; over: number; retryAfterMs: number; states: RateState[]; totals: number[] }
  | { ok: false; refused: 'reserve'; over: number; states: RateState[]; totals: number[] };

/** settle(): a TAT moved by `delta` units of `intervalMs` (rateAdjust's). */
export interface SettleAdjust {
  key: string;
  intervalMs: number;
  delta: number;
}

/** settle(): a counter given `by` (incr's). */
export interface SettleIncr {
  key: string;
  by: number;
  ttlMs: number;
}

/**
 * SharedState plus the all-or-nothing operations budgets and rate limits are built on. A
 * separate interface only so that a SharedState written for something else (a test's fake
 * remote) need not grow these; every backend here implements it, and openState returns it.
 */
export interface GovernanceState extends SharedState {
  /**
   * Adds every amount to its scope's `add` counter only if no scope's window sum + amount would
   * exceed its limit; else adds nothing. `totals`: each scope's sum after (ok) or as found (not
   * ok); `over`: index of the first scope that refused. Every scope is judged on the counters as
   * found, so scopes should not share an `add` counter.
   */
  reserve(scopes: readonly ReserveScope[]): Promise<ReserveResult>;
  /**
   * All-or-nothing GCRA across scopes: admits only when every scope admits `cost`; then advances
   * every TAT. A request whose cost exceeds the burst is admitted when that scope is fully idle
   * (TAT <= now), else it could never pass. `retryAfterMs`: the longest wait among the scopes
   * (the request needs all of them). Scopes' keys should be distinct. Formulas:
   * gateway/state/governance.ts.
   */
  rate(scopes: readonly RateScope[]): Promise<RateResult>;
  /** Moves a scope's TAT by delta units (negative gives back), e.g. TPM reconciled from reserved to actual tokens; never below now. */
  rateAdjust(key: string, intervalMs: number, delta: number): Promise<void>;
  /**
   * rate() and reserve() in one atomic operation, all or nothing across both kinds: every rate
   * scope and every budget scope is judged on the state as found, and only when none refuses
   * are the TATs advanced and the amounts added (a request refused by a budget consumes no
   * rate, and one refused by a rate reserves nothing). One round trip on Redis.
   */
  admit(rate: readonly RateScope[], reserve: readonly ReserveScope[]): Promise<AdmitResult>;
  /** rateAdjust() per `adjust` and incr() per `incr`, in one operation (one round trip on Redis). */
  settle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): Promise<void>;
}
