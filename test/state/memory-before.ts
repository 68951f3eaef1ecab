/**
 * gateway/state/memory.ts before issue 18's stage work (values kept as text: counters and TATs
 * printed and parsed on every call), kept as the oracle of test/state/memory-equivalence.test.ts.
 */
import { checkAdjust, checkRate, checkReserve, checkSettle, formatTat, gcraState, gcraWait, RATE_EPS_MS, reserveRefuses, TAT_MARGIN_MS, tatView, type TatView } from '../../gateway/state/governance.js';
import type { AdmitResult, GovernanceState, RateResult, RateScope, RateState, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, StateHealth } from '../../gateway/state/types.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Expired entries are swept once the map has grown by this many since the last sweep: bounded, and cheap per call. */
const SWEEP_EVERY = 1024;

/**
 * The in-process backend: one replica's state in a Map. Every operation is synchronous inside,
 * so each is atomic like its Redis script; the clock is injected so tests compress time.
 */
export class MemoryStateBefore implements GovernanceState {
  readonly backend = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #sweepAt = SWEEP_EVERY;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  health(): StateHealth {
    return { backend: 'memory', degraded: false, since: undefined, fallbacks: 0, pendingResync: 0 };
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt > this.#now()) return e;
    this.#entries.delete(key);
    return undefined;
  }

  #put(key: string, value: string, expiresAt: number): void {
    this.#entries.set(key, { value, expiresAt });
    if (this.#entries.size < this.#sweepAt) return;
    const now = this.#now();
    for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
    this.#sweepAt = this.#entries.size + SWEEP_EVERY;
  }

  #add(key: string, by: number, ttlMs: number): number {
    const e = this.#live(key);
    const total = (e === undefined ? 0 : Number(e.value)) + by;
    this.#put(key, String(total), e?.expiresAt ?? this.#now() + ttlMs);
    return total;
  }

  #num(key: string): number | undefined {
    const e = this.#live(key);
    return e === undefined ? undefined : Number(e.value);
  }

  #sum(keys: readonly string[]): number {
    let t = 0;
    for (const k of keys) t += this.#num(k) ?? 0;
    return t;
  }

  incr(key: string, by: number, ttlMs: number): Promise<number> {
    return Promise.resolve(this.#add(key, by, ttlMs));
  }

  /** Synchronous inside, so atomic; the arithmetic is governance.ts's, as in the Redis script. */
  async reserve(scopes: readonly ReserveScope[]): Promise<ReserveResult> {
    checkReserve(scopes);
    const j = this.#reserveJudge(scopes);
    if (j.over >= 0) return { ok: false, over: j.over, totals: j.totals };
    return { ok: true, totals: this.#reserveCommit(scopes) };
  }

  async rate(scopes: readonly RateScope[]): Promise<RateResult> {
    checkRate(scopes);
    const j = this.#rateJudge(scopes);
    if (j.over >= 0) return { ok: false, over: j.over, retryAfterMs: j.retryAfterMs, states: this.#rateStates(j.at) };
    return { ok: true, states: this.#rateCommit(j.at, j.now) };
  }

  /** Both judges on the state as found, then both commits or neither: the ADMIT script's order. */
  async admit(rate: readonly RateScope[], reserve: readonly ReserveScope[]): Promise<AdmitResult> {
    checkRate(rate);
    checkReserve(reserve);
    const r = this.#rateJudge(rate);
    const b = this.#reserveJudge(reserve);
    if (r.over >= 0) return { ok: false, refused: 'rate', over: r.over, retryAfterMs: r.retryAfterMs, states: this.#rateStates(r.at), totals: b.totals };
    if (b.over >= 0) return { ok: false, refused: 'reserve', over: b.over, states: this.#rateStates(r.at), totals: b.totals };
    return { ok: true, states: this.#rateCommit(r.at, r.now), totals: this.#reserveCommit(reserve) };
  }

  async settle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): Promise<void> {
    checkSettle(adjust, incr);
    for (const a of adjust) this.#adjust(a.key, a.intervalMs, a.delta);
    for (const c of incr) this.#add(c.key, c.by, c.ttlMs);
  }

  #reserveJudge(scopes: readonly ReserveScope[]): { over: number; totals: number[] } {
    const totals = scopes.map((s) => this.#sum(s.window));
    return { over: scopes.findIndex((s, i) => reserveRefuses(totals[i] ?? 0, s.amount, s.limit)), totals };
  }

  #reserveCommit(scopes: readonly ReserveScope[]): number[] {
    for (const s of scopes) this.#add(s.add, s.amount, s.ttlMs);
    return scopes.map((s) => this.#sum(s.window));
  }

  #rateJudge(scopes: readonly RateScope[]): { at: { s: RateScope; v: TatView }[]; now: number; over: number; retryAfterMs: number } {
    const now = this.#now();
    const at = scopes.map((s) => ({ s, v: tatView(this.#live(s.key)?.value, now) }));
    const waits = at.map(({ s, v }) => gcraWait(v.tat, v.now, s));
    return { at, now, over: waits.findIndex((w) => w > RATE_EPS_MS), retryAfterMs: Math.max(0, ...waits) };
  }

  #rateStates(at: readonly { s: RateScope; v: TatView }[]): RateState[] {
    return at.map(({ s, v }) => gcraState(v.tat, v.now, s));
  }

  #rateCommit(at: readonly { s: RateScope; v: TatView }[], now: number): RateState[] {
    return at.map(({ s, v }) => {
      const tat = Math.max(v.tat ?? v.now, v.now) + s.cost * s.intervalMs;
      this.#putTat(s.key, v, tat, now);
      return gcraState(tat, v.now, s);
    });
  }

  #putTat(key: string, v: TatView, tat: number, now: number): void {
    // Back to now (or below): the same as absent.
    if (tat <= v.now) this.#entries.delete(key);
    else this.#put(key, formatTat(v.base, tat), now + (tat - v.now) + TAT_MARGIN_MS);
  }

  async rateAdjust(key: string, intervalMs: number, delta: number): Promise<void> {
    checkAdjust(intervalMs, delta);
    this.#adjust(key, intervalMs, delta);
  }

  #adjust(key: string, intervalMs: number, delta: number): void {
    const now = this.#now();
    const v = tatView(this.#live(key)?.value, now);
    this.#putTat(key, v, Math.max(v.tat ?? v.now, v.now) + delta * intervalMs, now);
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#live(key)?.value);
  }

  getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return Promise.resolve(keys.map((k) => this.#live(k)?.value));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve();
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    if (this.#live(key)?.value !== expected) return Promise.resolve(false);
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.#live(name)?.value;
    if (held !== undefined && held !== owner) return Promise.resolve(false);
    this.#put(name, owner, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  release(name: string, owner: string): Promise<void> {
    if (this.#live(name)?.value === owner) this.#entries.delete(name);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
