import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, ERROR_CODES, familyOf, KeelError, type ErrorClass, type ErrorCode } from '../../gateway/errors.js';
import { formats } from '../../gateway/formats/index.js';
import { countsAgainstTarget, decide, isVerdictless } from '../../gateway/routing/classify.js';
import { transportError } from '../../gateway/upstream/send.js';
import { upstreamStatusError } from '../../gateway/upstream/status.js';

/**
 * Every code Keel can return, with the class it carries by default (DESIGN.md §8). A new
 * code without a line here fails the first test: its class must be decided on purpose.
 */
const EXPECTED: Record<ErrorCode, ErrorClass> = {
  KEEL_INVALID_JSON: 'caller_invalid',
  KEEL_JSON_TOO_DEEP: 'caller_too_deep',
  KEEL_INVALID_REQUEST: 'caller_invalid',
  KEEL_UNSUPPORTED: 'caller_invalid',
  KEEL_UNSUPPORTED_MEDIA_TYPE: 'caller_invalid',
  KEEL_UNAUTHENTICATED: 'caller_unauthenticated',
  KEEL_FORBIDDEN: 'caller_forbidden',
  KEEL_ROUTE_FORBIDDEN: 'caller_forbidden',
  KEEL_RATE_LIMITED: 'caller_over_limit',
  KEEL_BUDGET_EXHAUSTED: 'caller_over_budget',
  KEEL_GUARDRAIL_BLOCKED: 'caller_guardrail',
  KEEL_CACHE_MISS: 'caller_cache_miss',
  KEEL_STAGE_FAILED: 'gateway_internal',
  KEEL_UNKNOWN_ROUTE: 'caller_invalid',
  KEEL_NOT_FOUND: 'caller_invalid',
  KEEL_REQUEST_TIMEOUT: 'caller_stalled',
  KEEL_BODY_TOO_LARGE: 'caller_too_large',
  KEEL_HEADERS_TOO_LARGE: 'caller_too_large',
  KEEL_UPSTREAM_REJECTED: 'caller_rejected',
  KEEL_UPSTREAM_RATE_LIMITED: 'provider_rate_limit',
  KEEL_UPSTREAM_ERROR: 'provider_error',
  KEEL_UPSTREAM_AUTH: 'provider_credential',
  KEEL_UPSTREAM_UNAVAILABLE: 'provider_unavailable',
  KEEL_UPSTREAM_TIMEOUT: 'provider_timeout',
  KEEL_UPSTREAM_BAD_RESPONSE: 'provider_malformed',
  KEEL_STREAM_BROKEN: 'provider_stream_broken',
  KEEL_ENCODE_FAILED: 'gateway_encode',
  KEEL_INTERNAL: 'gateway_internal',
  KEEL_OVERLOADED: 'gateway_overloaded',
  KEEL_SHUTTING_DOWN: 'gateway_shutdown',
  KEEL_CLIENT_CLOSED: 'caller_disconnected',
  KEEL_CLIENT_STALLED: 'caller_stalled',
  KEEL_ATTEMPT_CANCELLED: 'gateway_cancelled',
  KEEL_REGENERATION_DIVERGED: 'gateway_cancelled',
};

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('failure taxonomy', () => {
  it('every error code has exactly the class listed here', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...codes].sort());
    for (const code of codes) expect(new KeelError(code, 'x').errorClass, code).toBe(EXPECTED[code]);
  });

  it('no server-side status is ever a caller class, and no upstream code is one unless the provider judged the request', () => {
    for (const code of codes) {
      const cls = new KeelError(code, 'x').errorClass;
      if (ERROR_CODES[code].status >= 500) expect(familyOf(cls), code).not.toBe('caller');
      if (code.startsWith('KEEL_UPSTREAM_') && code !== 'KEEL_UPSTREAM_REJECTED') expect(familyOf(cls), code).toBe('provider');
    }
  });

  it('provider statuses: only a 4xx about the request itself is the caller’s', () => {
    const fmt = formats['openai-chat'];
    for (let status = 400; status < 600; status++) {
      const err = upstreamStatusError(status, '{"error":{"message":"m"}}', fmt, 'p');
      const providers = status >= 500 || [401, 403, 404, 408, 429].includes(status);
      expect(familyOf(err.errorClass), String(status)).toBe(providers ? 'provider' : 'caller');
    }
  });

  it('transport failures are the provider’s, an abort keeps the reason Keel gave it', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(transportError(reset, 'p').errorClass).toBe('provider_reset');
    expect(transportError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'p').errorClass).toBe('provider_unavailable');
    expect(transportError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'p').errorClass).toBe('provider_timeout');
    const stalled = new KeelError('KEEL_CLIENT_STALLED', 'caller stopped reading');
    expect(transportError(reset, 'p', { aborted: true, reason: stalled }).errorClass).toBe('caller_stalled');
  });

  it('only provider classes move a target; caller stalls, disconnects and Keel’s own failures free a probe without a verdict', () => {
    for (const cls of ERROR_CLASSES) {
      expect(countsAgainstTarget(cls), cls).toBe(cls.startsWith('provider_'));
      if (cls.startsWith('gateway_') || cls === 'caller_stalled' || cls === 'caller_disconnected') expect(isVerdictless(cls), cls).toBe(true);
      if (cls.startsWith('provider_')) expect(isVerdictless(cls), cls).toBe(false);
    }
  });

  it('caller and gateway classes never retry or fall back (except a context-length miss, which looks for a larger window)', () => {
    for (const cls of ERROR_CLASSES) {
      const d = decide(cls);
      if (cls === 'caller_context_length') expect(d).toBe('larger_context');
      else if (!cls.startsWith('provider_')) expect(d, cls).toBe('stop');
      else expect(d, cls).not.toBe('stop');
    }
  });
});
