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

export function rateHeaders(views: readonly RateView[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of ['requests', 'tokens'] as const) {
    const tightest = views.filter((v) => v.kind === kind).sort((a, b) => a.state.remaining - b.state.remaining)[0];
    if (tightest === undefined) continue;
    out[`x-ratelimit-limit-${kind}`] = String(tightest.limit);
    out[`x-ratelimit-remaining-${kind}`] = String(Math.max(0, Math.floor(tightest.state.remaining)));
    out[`x-ratelimit-reset-${kind}`] = duration(tightest.state.resetMs);
  }
  return out;
}

/** A duration as OpenAI writes it in these headers: `20ms`, `1.5s`, `6m0s`. */
export function duration(ms: number): string {
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.ceil(v)}ms`;
  if (v < 60_000) return `${Number((v / 1000).toFixed(3))}s`;
  return `${Math.floor(v / 60_000)}m${Math.round((v % 60_000) / 1000)}s`;
}
