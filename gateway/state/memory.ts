import { checkAdjust, checkRate, checkReserve, checkSettle, formatTat, gcraState, gcraWait, RATE_EPS_MS, reserveRefuses, TAT_MARGIN_MS, tatAt, tatView, type TatView } from './governance.js';
import type { AdmitResult, GovernanceState, RateResult, RateScope, RateState, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, StateHealth } from './types.js';

/**
 * A value as Redis would hold it (a string), kept as the numbers it was made from when it is a
 * counter or a TAT: the quota stage's admit + settle (two rate scopes, two budgets) converted
 * every counter and TAT to text and back, 3.4-4.1 µs per request in process, most of it
 * String(total) of a float and its Number(); the text is made only when get() asks. Number(String(x))
 * is x for every double (shortest round-trip printing) but -0, which prints as 0: hence the `+ 0`
 * where numbers are stored.
 */
interface Entry {
  expiresAt: number;
  kind: 'text' | 'count' | 'tat';
  /** The value as get() returns it; for a counter or a TAT made on the first read. */
  text: string | undefined;
  /** A counter's total, or a TAT's offset from `base`. */
  n: number;
  base: number;
}

/** Expired entries are swept once the map has grown by this many since the last sweep: bounded, and cheap per call. */
const SWEEP_EVERY = 1024;

function textOf(e: Entry): string {
  e.text ??= e.kind === 'count' ? String(e.n) : formatTat(e.base, e.n);
  return e.text;
}

const numberOf = (e: Entry): number => (e.kind === 'count' ? e.n : Number(textOf(e)));
const tatOf = (e: Entry | undefined, now: number): TatView => (e?.kind === 'tat' ? tatAt(e.base, e.n, now) : tatView(e === undefined ? undefined : textOf(e), now));

/**
 * The in-process backend: one replica's state in a Map. Every operation is synchronous inside,
 * so each is atomic like its Redis script; the clock is injected so tests compress time.
 */
export class MemoryState implements GovernanceState {
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

  /** The entry `key`'s new value goes into (the one there, overwritten whole, or a new one), then the sweep check every write makes. */
  #write(key: string, kind: Entry['kind'], expiresAt: number): Entry {
    let e = this.#entries.get(key);
    if (e === undefined) this.#entries.set(key, (e = { expiresAt, kind, text: undefined, n: 0, base: 0 }));
    else {
      e.expiresAt = expiresAt;
      e.kind = kind;
      e.text = undefined;
    }
    if (this.#entries.size >= this.#sweepAt) this.#sweep();
    return e;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
    this.#sweepAt = this.#entries.size + SWEEP_EVERY;
  }

  #put(key: string, value: string, expiresAt: number): void {
    this.#write(key, 'text', expiresAt).text = value;
  }

  #add(key: string, by: number, ttlMs: number): number {
    const e = this.#live(key);
    const total = (e === undefined ? 0 : numberOf(e)) + by;
    this.#write(key, 'count', e?.expiresAt ?? this.#now() + ttlMs).n = total + 0;
    return total;
  }

  #num(key: string): number | undefined {
    const e = this.#live(key);
    return e === undefined ? undefined : numberOf(e);
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
    const at = scopes.map((s) => ({ s, v: tatOf(this.#live(s.key), now) }));
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
    if (tat <= v.now) {
      this.#entries.delete(key);
      return;
    }
    const e = this.#write(key, 'tat', now + (tat - v.now) + TAT_MARGIN_MS);
    e.base = v.base + 0;
    e.n = tat + 0;
  }

  async rateAdjust(key: string, intervalMs: number, delta: number): Promise<void> {
    checkAdjust(intervalMs, delta);
    this.#adjust(key, intervalMs, delta);
  }

  #adjust(key: string, intervalMs: number, delta: number): void {
    const now = this.#now();
    const v = tatOf(this.#live(key), now);
    this.#putTat(key, v, Math.max(v.tat ?? v.now, v.now) + delta * intervalMs, now);
  }

  #text(key: string): string | undefined {
    const e = this.#live(key);
    return e === undefined ? undefined : textOf(e);
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#text(key));
  }

  getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return Promise.resolve(keys.map((k) => this.#text(k)));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve();
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    if (this.#text(key) !== expected) return Promise.resolve(false);
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.#text(name);
    if (held !== undefined && held !== owner) return Promise.resolve(false);
    this.#put(name, owner, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  release(name: string, owner: string): Promise<void> {
    if (this.#text(name) === owner) this.#entries.delete(name);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
