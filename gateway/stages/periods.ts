import type { Budget } from '../../config/governance-schema.js';

/**
 * Where a budget's spend lives in the shared state, and when it frees up. Calendar periods are
 * one counter per UTC day or month; rolling ones are buckets (hours for a 24 h window, days
 * for 30 days) whose sum is the spend, so old spend leaves the window bucket by bucket.
 */
export interface BudgetWindow {
  /** The counter this request's cost goes to. */
  add: string;
  /** The counters whose sum is the spend in the window (includes `add`). */
  window: string[];
  /** Lifetime of `add` once created: past the window's end, so nothing lingers. */
  ttlMs: number;
  /** When more of the budget frees up: the next period (calendar) or the next bucket leaving the window (rolling). */
  resetAtMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function budgetWindow(prefix: string, b: Budget, nowMs: number): BudgetWindow {
  if (b.window === 'rolling') {
    const size = b.period === 'day' ? HOUR : DAY;
    const count = b.period === 'day' ? 24 : 30;
    const bucket = Math.floor(nowMs / size);
    const window = Array.from({ length: count }, (_, i) => `${prefix}:r${b.period}:${bucket - i}`);
    return { add: window[0] ?? '', window, ttlMs: (count + 1) * size, resetAtMs: (bucket + 1) * size };
  }
  const d = new Date(nowMs);
  if (b.period === 'day') {
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    const key = `${prefix}:d:${new Date(start).toISOString().slice(0, 10)}`;
    return { add: key, window: [key], ttlMs: start + 2 * DAY - nowMs, resetAtMs: start + DAY };
  }
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const key = `${prefix}:m:${new Date(start).toISOString().slice(0, 7)}`;
  return { add: key, window: [key], ttlMs: next + DAY - nowMs, resetAtMs: next };
}

/** A budget's name in headers and messages: `day`, `month`, `rolling 24h`, `rolling 30d`. */
export function periodName(b: Budget): string {
  return b.window === 'rolling' ? (b.period === 'day' ? 'rolling 24h' : 'rolling 30d') : b.period;
}
