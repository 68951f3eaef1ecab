import { KeelError } from '../errors.js';
import type { WireFormat } from '../formats/types.js';

/**
 * Maps a provider's error response to the error the caller sees.
 * - 400/404/413/422: the request itself was rejected; relay the provider's status and reason.
 * - 401/403: Keel's configured key was refused. The caller cannot fix that, so it is a 502
 *   that tells the operator where to look, not the provider's auth error.
 * - 429 and 5xx: the provider's state, with Retry-After kept for the caller.
 */
export function upstreamStatusError(
  status: number,
  bodyText: string,
  format: WireFormat,
  provider: string,
  retryAfter?: number,
): KeelError {
  const detail = format.parseUpstreamError(safeJson(bodyText));
  const reason = detail.message ?? `HTTP ${status}`;
  const upstreamCode = detail.code ?? detail.type;
  if (status === 401 || status === 403) {
    return new KeelError('KEEL_UPSTREAM_AUTH', `provider ${provider} refused Keel's credentials (HTTP ${status}); check providers.${provider}.api_key`, {
      upstreamCode,
    });
  }
  if (status === 429) {
    return new KeelError('KEEL_UPSTREAM_RATE_LIMITED', `provider ${provider} is rate limiting: ${reason}`, { upstreamCode, retryAfterMs: retryAfter });
  }
  if (status === 503 || status === 529) {
    return new KeelError('KEEL_UPSTREAM_UNAVAILABLE', `provider ${provider} is overloaded: ${reason}`, { upstreamCode, retryAfterMs: retryAfter });
  }
  if (status === 504) return new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${provider} timed out: ${reason}`, { upstreamCode });
  if (status >= 500) return new KeelError('KEEL_UPSTREAM_ERROR', `provider ${provider} failed (HTTP ${status}): ${reason}`, { upstreamCode });
  return new KeelError('KEEL_UPSTREAM_REJECTED', reason, { status, upstreamCode });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Retry-After in milliseconds (seconds or HTTP date), or undefined. RFC 9110 §10.2.3. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
