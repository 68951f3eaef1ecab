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
