import type { EffectiveRetries } from '../runtime/resolve.js';

/**
 * The wait before retry number `retry` (0-based) on the same target.
 * Retry-After wins when the provider sent one (RFC 9110 §10.2.3), unless it asks for
 * more than the route allows, in which case the caller is better served elsewhere
 * (undefined = do not retry here). Otherwise exponential backoff with "equal jitter":
 * half fixed, half random, so retries spread out but never fire instantly.
 */
export function retryDelay(retry: number, retries: EffectiveRetries, retryAfterMs: number | undefined, random: () => number = Math.random): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= retries.max_retry_after_ms ? retryAfterMs : undefined;
  const ceiling = Math.min(retries.max_backoff_ms, retries.backoff_ms * 2 ** retry);
  return ceiling / 2 + random() * (ceiling / 2);
}
