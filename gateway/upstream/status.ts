import { KeelError, type ErrorClass } from '../errors.js';
import type { WireFormat } from '../formats/types.js';
import { redactShapes, type Redactor } from '../redact.js';

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
  /** The config snapshot's redactor (Runtime.redact); the key shapes alone when absent. */
  redact: Redactor = redactShapes,
): KeelError {
  const detail = format.parseUpstreamError(safeJson(bodyText));
  // Providers echo what they were sent (keys included); the reason reaches the caller, logs and spans.
  const reason = redact(detail.message ?? `HTTP ${status}`);
  const upstreamCode = detail.code ?? detail.type;
  if (status === 401 || status === 403) {
    return new KeelError('KEEL_UPSTREAM_AUTH', `provider ${provider} refused Keel's credentials (HTTP ${status}); check providers.${provider}.api_key`, {
      upstreamCode,
    });
  }
  if (status === 429) {
    // OpenAI reports an exhausted balance as a 429 with this code: waiting does not help.
    const errorClass = upstreamCode === 'insufficient_quota' ? 'provider_quota' : 'provider_rate_limit';
    return new KeelError('KEEL_UPSTREAM_RATE_LIMITED', `provider ${provider} is rate limiting: ${reason}`, { upstreamCode, retryAfterMs: retryAfter, errorClass });
  }
  if (status === 503 || status === 529) {
    return new KeelError('KEEL_UPSTREAM_UNAVAILABLE', `provider ${provider} is overloaded: ${reason}`, { upstreamCode, retryAfterMs: retryAfter });
  }
  // 408: the provider gave up waiting on Keel's request; nothing the caller sent.
  if (status === 504 || status === 408) return new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${provider} timed out: ${reason}`, { upstreamCode });
  if (status >= 500) return new KeelError('KEEL_UPSTREAM_ERROR', `provider ${provider} failed (HTTP ${status}): ${reason}`, { upstreamCode });
  if (status === 404) {
    // Keel chose the endpoint and the model: a 404 is the target's configuration, not the caller's request.
    return new KeelError('KEEL_UPSTREAM_ERROR', `provider ${provider} does not know the endpoint or model (HTTP 404): ${reason}; check the route's target`, {
      upstreamCode,
      errorClass: 'provider_rejected',
    });
  }
  return new KeelError('KEEL_UPSTREAM_REJECTED', reason, { status, upstreamCode, errorClass: rejectionClass(upstreamCode, reason) });
}

const CONTEXT = /context.length|prompt is too long|maximum context|too many tokens|context window/i;
const POLICY = /content.?policy|safety system|content.filter|flagged/i;

/** A provider's 4xx about the request itself: the caller's content, too long or not allowed. */
function rejectionClass(upstreamCode: string | undefined, reason: string): ErrorClass {
  if (upstreamCode === 'context_length_exceeded' || CONTEXT.test(reason)) return 'caller_context_length';
  if (upstreamCode === 'content_policy_violation' || upstreamCode === 'content_filter' || POLICY.test(reason)) return 'caller_content_policy';
  return 'caller_rejected';
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
