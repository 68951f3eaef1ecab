import type { RateScope, RateState, ReserveScope, SettleAdjust, SettleIncr } from './types.js';

/**
 * The arithmetic of reserve() and rate() (and of admit(), which is both), shared by MemoryState and mirrored line for line by
 * the Lua in scripts.ts (Redis runs it on the server's clock), so both backends decide alike.
 *
 * GCRA, per scope, with T = intervalMs, τ = burstMs, c = cost, all in ms:
 *   d     = max(TAT − now, 0)                  how far the scope's TAT runs ahead of now
 *   wait  = c·T > τ + T ? d                     an oversized request waits for a fully idle scope
 *                       : max(0, d + c·T − (τ + T))
 *   admit iff wait ≤ ε on every scope; then TAT' = max(TAT, now) + c·T on every scope
 *   retryAfterMs = max over scopes of wait      the request needs all of them, so the longest wait
 *   remaining    = max(0, floor((τ + T − d' + ε) / T))    the largest c that `wait` would admit now
 *   resetMs      = d'                                     until TAT' is back to now
 * (d' is d after the call: advanced when admitted, as found when not.)
 *
 * Why τ + T and not τ: for c = 1 the test d + T ≤ τ + T is d ≤ τ, the ITU virtual-scheduling
 * GCRA (a cell conforms when it arrives no earlier than TAT − τ). So burst 0 means strictly one
 * unit per interval, and a burst of B intervals lets B + 1 units through at once from idle. In
 * any window of W ms at most W/T + τ/T + 1 units are admitted (costs that fit, no give-backs).
 *
 * A TAT is stored as "<base> <offset>": base an integer epoch ms, offset the TAT in ms from it
 * (tatView below), and all of the above is computed relative to base. An epoch-ms double has a
 * 0.24 µs ulp, and a burst of sub-ms advances (T = 0.006 ms at 10M TPM) rounded at that scale
 * drifts by whole units: measured 4917 of 5001 admitted. An offset is the time since the key
 * last idled, small for any real key (a day is 8.6e7 ms, ulp 15 ps), so precision holds.
 * ε (RATE_EPS_MS): a request within 1 µs (the server clock's resolution) of its slot is
 * admitted, so the last rounding of a fractional T never refuses the unit that lands exactly on
 * the bound.
 */
export const RATE_EPS_MS = 0.001;

/** A TAT key lives until its TAT is back to now, plus this: past that, absent means the same as present. */
export const TAT_MARGIN_MS = 1000;

/**
 * reserve(): a scope refuses when window sum + amount > limit + ε · max(1, |limit|), so summed
 * fractions (0.1 + 0.2 ≠ 0.3 in doubles) never refuse the reservation that lands exactly on the
 * limit. Otherwise all scopes are checked against the counters as found, then every amount added.
 */
export const RESERVE_EPS = 1e-9;

export function reserveRefuses(total: number, amount: number, limit: number): boolean {
  return total + amount > limit + RESERVE_EPS * Math.max(1, Math.abs(limit));
}

/** A TAT relative to its base: `tat` undefined when idle (absent, or back to now), `now` on the same scale. */
export interface TatView {
  base: number;
  tat: number | undefined;
  now: number;
}

/** Reads a stored TAT at epoch ms `now`. An idle one is rebased on now, so offsets stay small. */
export function tatView(stored: string | undefined, now: number): TatView {
  // The first two space-separated fields, as split(' ').map(Number) read them, without the two arrays (~0.7 % of the request's CPU in bench:profile).
  const s = stored ?? '';
  const i = s.indexOf(' ');
  if (i >= 0) {
    const j = s.indexOf(' ', i + 1);
    return tatAt(Number(s.slice(0, i)), Number(j < 0 ? s.slice(i + 1) : s.slice(i + 1, j)), now);
  }
  return idleAt(now);
}

/** A TAT given as its two numbers (base, offset), read as tatView reads their formatTat text. */
export function tatAt(b: number, o: number, now: number): TatView {
  return Number.isFinite(b) && Number.isFinite(o) && o > now - b ? { base: b, tat: o, now: now - b } : idleAt(now);
}

function idleAt(now: number): TatView {
  const base = Math.floor(now);
  return { base, tat: undefined, now: now - base };
}

export const formatTat = (base: number, tat: number): string => `${base} ${tat}`;

/** `wait` above, from a TAT (undefined when idle) and now on one scale. */
export function gcraWait(tat: number | undefined, now: number, s: RateScope): number {
  const d = Math.max(0, (tat ?? now) - now);
  const need = s.cost * s.intervalMs;
  const room = s.burstMs + s.intervalMs;
  return need > room ? d : Math.max(0, d + need - room);
}

/** remaining and resetMs above, from a TAT (undefined when idle) and now on one scale. */
export function gcraState(tat: number | undefined, now: number, s: RateScope): RateState {
  const d = Math.max(0, (tat ?? now) - now);
  return { remaining: Math.max(0, Math.floor((s.burstMs + s.intervalMs - d + RATE_EPS_MS) / s.intervalMs)), resetMs: d };
}

const finite = (n: number) => Number.isFinite(n);

/** Bad arguments are the caller's bug: refused before any backend (so ResilientState never mistakes them for an outage). */
export function checkReserve(scopes: readonly ReserveScope[]): void {
  for (const s of scopes) {
    if (!finite(s.amount) || !finite(s.limit) || !finite(s.ttlMs) || s.ttlMs <= 0) throw new RangeError(`reserve: bad scope for ${s.add}`);
  }
}

export function checkRate(scopes: readonly RateScope[]): void {
  for (const s of scopes) {
    if (!finite(s.intervalMs) || s.intervalMs <= 0 || !finite(s.burstMs) || s.burstMs < 0 || !finite(s.cost) || s.cost < 0) throw new RangeError(`rate: bad scope for ${s.key}`);
  }
}

export function checkAdjust(intervalMs: number, delta: number): void {
  if (!finite(intervalMs) || intervalMs <= 0 || !finite(delta)) throw new RangeError('rateAdjust: bad interval or delta');
}

export function checkSettle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): void {
  for (const a of adjust) checkAdjust(a.intervalMs, a.delta);
  for (const c of incr) {
    if (!finite(c.by) || !finite(c.ttlMs) || c.ttlMs <= 0) throw new RangeError(`settle: bad counter ${c.key}`);
  }
}
