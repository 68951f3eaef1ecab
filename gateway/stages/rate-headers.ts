import type { RateState } from '../state/index.js';

/**
 * OpenAI's rate-limit headers (platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers),
 * so SDKs and clients built for OpenAI read Keel's limits the same way: for requests and for
 * tokens, the limit per minute, what may be sent now, and the time until fully replenished,
 * each from the tightest scope (the one with the least remaining).
 */
export interface RateView {
  kind: 'requests' | 'tokens';
  limit: number;
  state: RateState;
  intervalMs: number;
}

/** The headers for `views`, written into `out` (default a new object). */
export function rateHeaders(views: readonly RateView[], out: Record<string, string> = {}): Record<string, string> {
  writeKind(views, 'requests', out, 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests');
  writeKind(views, 'tokens', out, 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens');
  return out;
}

/** The first view of `kind` with the least remaining (what a stable sort by remaining put first), by one scan: no filtered copy, no sort, no header names built per request. */
function writeKind(views: readonly RateView[], kind: RateView['kind'], out: Record<string, string>, limit: string, remaining: string, reset: string): void {
  let tightest: RateView | undefined;
  for (const v of views) if (v.kind === kind && (tightest === undefined || v.state.remaining < tightest.state.remaining)) tightest = v;
  if (tightest === undefined) return;
  out[limit] = String(tightest.limit);
  out[remaining] = String(Math.max(0, Math.floor(tightest.state.remaining)));
  out[reset] = duration(tightest.state.resetMs);
}

/** A duration as OpenAI writes it in these headers: `20ms`, `1.5s`, `6m0s`. */
export function duration(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.ceil(v)}ms`;
  if (v < 60_000) return `${Number((v / 1000).toFixed(3))}s`;
  return `${Math.floor(v / 60_000)}m${Math.round((v % 60_000) / 1000)}s`;
}
