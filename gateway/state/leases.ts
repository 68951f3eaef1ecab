import type { AdmitResult, GovernanceState, RateResult, RateScope, RateState, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, StateHealth } from './types.js';
import { extend } from '../objects.js';

/**
 * Local leases on the shared counters, so that a request far from every limit is admitted
 * without a Redis round trip (issue 15: ≤ 0.3 ms added with Redis on loopback, where one
 * EVALSHA is ~0.15–0.3 ms from inside a busy gateway on this machine).
 *
 * When the last answer from the shared state showed a scope with room for HEADROOM more
 * requests of this size, the admit asks for EXTRA more of them on top of the request's own
 * amount, in the same atomic call. What Redis granted beyond the request is this replica's
 * allowance: already counted in the shared totals (so the fleet can never overspend or exceed a
 * rate by it), spent locally by the next requests that fit. Reconciles of requests on a leased
 * scope go to the allowance (a request that cost less than reserved gives the rest back to it),
 * and whatever is left goes back to the shared state once the lease is idle for IDLE_MS, or
 * older than MAX_AGE_MS, or at close. Near a limit (less than HEADROOM requests of room) no
 * lease is taken and every request goes to the shared state: that is where exactness matters,
 * and there an allowance would only strand budget on a replica that is not using it.
 *
 * A request that finds a lease being fetched for its scope waits for it (the round trip it would
 * have made anyway) instead of sending Redis its own, and the lease grows with the admissions in
 * flight (MAX_EXTRA), so a busy replica still makes one round trip per lease, not per request.
 *
 * What a lease costs: a replica that dies holding one leaves its allowance counted (at most
 * MAX_EXTRA requests' worth per scope, conservative: never an overspend), and a replica's unused
 * allowance is unavailable to the others for at most IDLE_MS.
 */

/** Room (in requests of this one's size) below which a scope is admitted one request at a time. */
export const HEADROOM = 64;
/** Requests' worth asked for beyond the request itself. 1 round trip per EXTRA + 1 requests, at most 1/8 of HEADROOM stranded per replica. */
export const EXTRA = 8;
/**
 * With many admissions in flight on this replica, a lease of EXTRA is gone before its round
 * trip returns and the rest queue on Redis: the lease grows to twice the admissions in flight,
 * up to this many requests' worth, and only where the room is at least HEADROOM_PER_EXTRA times it.
 */
export const MAX_EXTRA = 64;
const HEADROOM_PER_EXTRA = 8;
export const IDLE_MS = 1000;
export const MAX_AGE_MS = 5000;
/** How old the last seen room may be and still justify asking for a lease. */
const ROOM_FRESH_MS = 5000;
const SWEEP_MS = 250;

interface Lease {
  /** Units (rate) or USD (budget) counted in the shared state and not yet given to a request. */
  left: number;
  /** The scope's shape when granted: a changed limit (config reload) ends the lease. */
  shape: number;
  /** Rate leases: the state the shared store reported when granted (for the headers). */
  state: RateState | undefined;
  /** Budget leases: the window total the shared store reported when granted (lease included). */
  total: number;
  grantedAt: number;
  usedAt: number;
  /** Rate: the TAT's emission interval (the give-back's unit); undefined for budgets. */
  intervalMs: number | undefined;
  ttlMs: number;
}

/** Last seen room in a scope, in the scope's own unit. */
interface Room {
  room: number;
  at: number;
}

export interface LeaseOptions {
  now?: () => number;
  log?: (msg: string) => void;
}

export class LeasedState implements GovernanceState {
  readonly #inner: GovernanceState;
  readonly #now: () => number;
  readonly #log: (msg: string) => void;
  readonly #leases = new Map<string, Lease>();
  readonly #rooms = new Map<string, Room>();
  /** Scopes with a lease request in flight: one at a time, or concurrent misses would each take one. */
  readonly #asking = new Map<string, Promise<unknown>>();
  readonly #sweeper: NodeJS.Timeout;
  /** Admissions waiting on the shared state right now (sizes the next lease). */
  #inFlight = 0;
  /** Admits answered from leases, and calls that went to the shared state (health, tests). */
  local = 0;
  remote = 0;

  constructor(inner: GovernanceState, o: LeaseOptions = {}) {
    this.#inner = inner;
    this.#now = o.now ?? Date.now;
    this.#log = o.log ?? (() => undefined);
    this.#sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  get backend(): GovernanceState['backend'] {
    return this.#inner.backend;
  }

  health(): StateHealth {
    return extend(this.#inner.health(), { admissions: { lease: this.local, shared: this.remote } });
  }

  async admit(rate: readonly RateScope[], reserve: readonly ReserveScope[]): Promise<AdmitResult> {
    const now = this.#now();
    const fast = this.#fromLeases(rate, reserve, now);
    if (fast !== undefined) return fast;
    this.#inFlight++;
    try {
      // A lease being fetched for one of these scopes: wait for it (one round trip, as going to
      // Redis would take) rather than send Redis a request of our own, then try it.
      const pending = [...rate.map((s) => s.key), ...reserve.map((s) => s.add)].flatMap((k) => this.#asking.get(k) ?? []);
      if (pending.length > 0) {
        await Promise.allSettled(pending);
        const leased = this.#fromLeases(rate, reserve, this.#now());
        if (leased !== undefined) return leased;
      }
      this.remote++;
      return await this.#admitShared(rate, reserve, now);
    } finally {
      this.#inFlight--;
    }
  }

  async #admitShared(rate: readonly RateScope[], reserve: readonly ReserveScope[], now: number): Promise<AdmitResult> {
    this.#dropShort(rate.map((s) => [s.key, s.cost] as const), reserve.map((s) => [s.add, s.amount] as const));
    const extras = this.#inner.health().degraded ? undefined : this.#extras(rate, reserve, now);
    if (extras === undefined) return this.#learn(rate, reserve, await this.#inner.admit(rate, reserve), undefined, now);
    const keys = [...rate.filter((_, i) => (extras.rate[i] ?? 0) > 0).map((s) => s.key), ...reserve.filter((_, i) => (extras.reserve[i] ?? 0) > 0).map((s) => s.add)];
    const call = this.#inner.admit(
      rate.map((s, i) => extend(s, { cost: s.cost + (extras.rate[i] ?? 0) })),
      reserve.map((s, i) => extend(s, { amount: s.amount + (extras.reserve[i] ?? 0) })),
    );
    // Settled once the lease is granted (learn runs in the continuation below, before waiters resume).
    const granted = call.then((r) => this.#learn(rate, reserve, r, r.ok ? extras : undefined, now));
    for (const k of keys) this.#asking.set(k, granted);
    let asked: AdmitResult;
    try {
      asked = await granted;
    } finally {
      for (const k of keys) if (this.#asking.get(k) === granted) this.#asking.delete(k);
    }
    // The room seen last was stale: ask again for the request alone (rare; a second round trip).
    if (!asked.ok) return this.#learn(rate, reserve, await this.#inner.admit(rate, reserve), undefined, now);
    return asked;
  }

  /** Every scope's amount out of its lease, or undefined (then nothing was taken). */
  #fromLeases(rate: readonly RateScope[], reserve: readonly ReserveScope[], now: number): AdmitResult | undefined {
    if (rate.length === 0 && reserve.length === 0) return undefined;
    const rl = rate.map((s) => this.#usable(s.key, s.intervalMs, s.cost));
    const bl = reserve.map((s) => this.#usable(s.add, s.limit, s.amount));
    if (rl.some((l) => l === undefined) || bl.some((l) => l === undefined)) return undefined;
    const states: RateState[] = [];
    rate.forEach((s, i) => {
      const l = rl[i] as Lease;
      l.left -= s.cost;
      l.usedAt = now;
      const st = l.state ?? { remaining: 0, resetMs: 0 };
      states.push({ remaining: Math.max(0, Math.floor(st.remaining + l.left)), resetMs: Math.max(0, st.resetMs - (now - l.grantedAt) - l.left * s.intervalMs) });
    });
    const totals = reserve.map((s, i) => {
      const l = bl[i] as Lease;
      l.left -= s.amount;
      l.usedAt = now;
      return l.total - l.left;
    });
    this.local++;
    return { ok: true, states, totals };
  }

  /**
   * A lease too small for this request goes back before the request is sent (same connection,
   * so Redis applies it first): a remainder no request fits must not hold the fleet's last room.
   */
  #dropShort(...scopes: (readonly (readonly [string, number])[])[]): void {
    for (const [key, amount] of scopes.flat()) {
      const l = this.#leases.get(key);
      if (l === undefined || l.left >= amount) continue;
      this.#leases.delete(key);
      void this.#giveBack(key, l);
    }
  }

  #usable(key: string, shape: number, amount: number): Lease | undefined {
    const l = this.#leases.get(key);
    return l !== undefined && l.shape === shape && l.left >= amount ? l : undefined;
  }

  /** What to ask for beyond the request, per scope (0: none); undefined when no scope warrants it. */
  #extras(rate: readonly RateScope[], reserve: readonly ReserveScope[], now: number): { rate: number[]; reserve: number[] } | undefined {
    const want = (key: string, amount: number): number => {
      const r = this.#rooms.get(key);
      const held = this.#leases.get(key)?.left ?? 0;
      if (r === undefined || now - r.at > ROOM_FRESH_MS || amount <= 0 || this.#asking.has(key)) return 0;
      // Every scope topped up together, so that their leases run out together (one round trip, not one per scope).
      const k = Math.min(MAX_EXTRA, Math.max(EXTRA, 2 * this.#inFlight));
      return r.room >= Math.max(HEADROOM, HEADROOM_PER_EXTRA * k) * amount ? Math.max(0, k * amount - held) : 0;
    };
    const x = { rate: rate.map((s) => want(s.key, s.cost)), reserve: reserve.map((s) => want(s.add, s.amount)) };
    return x.rate.some((v) => v > 0) || x.reserve.some((v) => v > 0) ? x : undefined;
  }

  /** Remembers each scope's room, turns granted extras into leases, and reports the request's own view. */
  #learn(rate: readonly RateScope[], reserve: readonly ReserveScope[], r: AdmitResult, extras: { rate: number[]; reserve: number[] } | undefined, now: number): AdmitResult {
    rate.forEach((s, i) => {
      const st = r.states[i];
      if (st !== undefined) this.#rooms.set(s.key, { room: st.remaining, at: now });
      const extra = extras?.rate[i] ?? 0;
      if (r.ok && extra > 0 && st !== undefined) this.#grant(s.key, extra, s.intervalMs, st, 0, s.intervalMs, 0, now);
    });
    reserve.forEach((s, i) => {
      const total = r.totals[i];
      if (total !== undefined) this.#rooms.set(s.add, { room: s.limit - total, at: now });
      const extra = extras?.reserve[i] ?? 0;
      if (r.ok && extra > 0 && total !== undefined) this.#grant(s.add, extra, s.limit, undefined, total, undefined, s.ttlMs, now);
    });
    if (extras === undefined || !r.ok) return r;
    // The caller sees the scopes as if it alone had been admitted: the extras are still free.
    const states = r.states.map((st, i) => ({ remaining: st.remaining + (extras.rate[i] ?? 0), resetMs: Math.max(0, st.resetMs - (extras.rate[i] ?? 0) * (rate[i]?.intervalMs ?? 0)) }));
    const totals = r.totals.map((t, i) => t - (extras.reserve[i] ?? 0));
    return { ok: true, states, totals };
  }

  #grant(key: string, extra: number, shape: number, state: RateState | undefined, total: number, intervalMs: number | undefined, ttlMs: number, now: number): void {
    const old = this.#leases.get(key);
    // A lease of another shape (the limit changed) goes back before the new one replaces it.
    if (old !== undefined && old.shape !== shape) void this.#giveBack(key, old);
    const left = extra + (old !== undefined && old.shape === shape ? old.left : 0);
    this.#leases.set(key, { left, shape, state, total, grantedAt: now, usedAt: now, intervalMs, ttlMs });
  }

  /** Reconciles on a leased scope go to its allowance; the rest (and any excess over it) to the shared state. */
  async settle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): Promise<void> {
    const a = adjust.flatMap((s) => this.#absorb(s.key, s.intervalMs, s.delta, (delta) => extend(s, { delta })));
    const c = incr.flatMap((s) => this.#absorb(s.key, undefined, s.by, (by) => extend(s, { by })));
    if (a.length > 0 || c.length > 0) await this.#inner.settle(a, c);
  }

  #absorb<T>(key: string, intervalMs: number | undefined, delta: number, rest: (delta: number) => T): T[] {
    const l = this.#leases.get(key);
    if (l === undefined || (intervalMs !== undefined && l.intervalMs !== intervalMs)) return [rest(delta)];
    // delta < 0: the request used less than it held, the difference joins the allowance.
    const take = Math.min(delta, l.left);
    l.left -= take;
    return delta - take > 0 ? [rest(delta - take)] : [];
  }

  /** Gives idle and old leases back to the shared state (the sweeper runs this; tests call it). */
  async sweep(all = false): Promise<void> {
    const now = this.#now();
    const due = [...this.#leases].filter(([, l]) => all || now - l.usedAt >= IDLE_MS || now - l.grantedAt >= MAX_AGE_MS);
    for (const [key] of due) this.#leases.delete(key);
    await Promise.all(due.map(([key, l]) => this.#giveBack(key, l)));
  }

  async #giveBack(key: string, l: Lease): Promise<void> {
    if (l.left <= 0) return;
    const back = l.intervalMs === undefined ? this.#inner.settle([], [{ key, by: -l.left, ttlMs: l.ttlMs }]) : this.#inner.settle([{ key, intervalMs: l.intervalMs, delta: -l.left }], []);
    // Not given back: it stays counted (the shared totals run high by it until the period ends).
    await back.catch((err: unknown) => this.#log(`shared state: a lease on ${key} could not be given back (${err instanceof Error ? err.message : String(err)})`));
  }

  /** Allowance held on this replica, per scope key (tests, health). */
  held(key: string): number {
    return this.#leases.get(key)?.left ?? 0;
  }

  reserve(scopes: readonly ReserveScope[]): Promise<ReserveResult> {
    return this.#inner.reserve(scopes);
  }

  rate(scopes: readonly RateScope[]): Promise<RateResult> {
    return this.#inner.rate(scopes);
  }

  rateAdjust(key: string, intervalMs: number, delta: number): Promise<void> {
    return this.#inner.rateAdjust(key, intervalMs, delta);
  }

  incr(key: string, by: number, ttlMs: number): Promise<number> {
    return this.#inner.incr(key, by, ttlMs);
  }

  get(key: string): Promise<string | undefined> {
    return this.#inner.get(key);
  }

  getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#inner.getMany(keys);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.#inner.set(key, value, ttlMs);
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    return this.#inner.compareAndSet(key, expected, value, ttlMs);
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.#inner.lease(name, owner, ttlMs);
  }

  release(name: string, owner: string): Promise<void> {
    return this.#inner.release(name, owner);
  }

  /** Leases go back before the connection closes, so a clean shutdown strands nothing. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.sweep(true);
    await this.#inner.close();
  }
}
