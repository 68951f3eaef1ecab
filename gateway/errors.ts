/**
 * The closed set of errors Keel returns, each with a stable code. This is the
 * one place that maps them to HTTP status and to a failure class (DESIGN.md §8);
 * wire formats turn the `kind` into their own error type names (OpenAI
 * `invalid_request_error`, Anthropic `invalid_request_error` / `overloaded_error`, ...).
 */

export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'request_too_large'
  | 'rate_limit'
  | 'api_error'
  | 'overloaded'
  | 'timeout';

/**
 * Who is at fault, in three families (DESIGN.md §8). Only `provider_*` move a target's
 * breaker, latency and hedge statistics and its per-target SLIs; `gateway_*` count
 * against the route's SLO, never a target; `caller_*` are excluded from availability SLIs.
 */
export const ERROR_CLASSES = [
  'caller_invalid',
  'caller_too_deep',
  'caller_too_large',
  'caller_unauthenticated',
  'caller_forbidden',
  'caller_context_length',
  'caller_content_policy',
  'caller_rejected',
  'caller_stalled',
  'caller_disconnected',
  'caller_over_limit',
  'caller_over_budget',
  'caller_guardrail',
  /** only-if-cached and nothing cached: the caller asked not to reach a provider. */
  'caller_cache_miss',
  'gateway_encode',
  'gateway_internal',
  'gateway_overloaded',
  'gateway_shutdown',
  'gateway_cancelled',
  'provider_rate_limit',
  'provider_quota',
  'provider_credential',
  'provider_rejected',
  'provider_error',
  'provider_unavailable',
  'provider_reset',
  'provider_timeout',
  'provider_stream_broken',
  'provider_malformed',
] as const;

export type ErrorClass = (typeof ERROR_CLASSES)[number];

export type ErrorFamily = 'caller' | 'gateway' | 'provider';

export function familyOf(cls: ErrorClass): ErrorFamily {
  return cls.startsWith('caller_') ? 'caller' : cls.startsWith('gateway_') ? 'gateway' : 'provider';
}

interface ErrorSpec {
  status: number;
  kind: ErrorKind;
  /** The class an error with this code has unless its origin says more (see KeelErrorOptions.errorClass). */
  cls: ErrorClass;
}

export const ERROR_CODES = {
  KEEL_INVALID_JSON: { status: 400, kind: 'invalid_request', cls: 'caller_invalid' },
  /** JSON nested deeper than server.max_json_depth: refused at parse time, before any routing. */
  KEEL_JSON_TOO_DEEP: { status: 400, kind: 'invalid_request', cls: 'caller_too_deep' },
  KEEL_INVALID_REQUEST: { status: 400, kind: 'invalid_request', cls: 'caller_invalid' },
  KEEL_UNSUPPORTED: { status: 400, kind: 'invalid_request', cls: 'caller_invalid' },
  KEEL_UNSUPPORTED_MEDIA_TYPE: { status: 415, kind: 'invalid_request', cls: 'caller_invalid' },
  KEEL_UNAUTHENTICATED: { status: 401, kind: 'authentication', cls: 'caller_unauthenticated' },
  KEEL_FORBIDDEN: { status: 403, kind: 'permission', cls: 'caller_forbidden' },
  /** The key may not call this route (auth.keys[].routes). */
  KEEL_ROUTE_FORBIDDEN: { status: 403, kind: 'permission', cls: 'caller_forbidden' },
  /** Over an RPM or TPM limit of the key, its team, its customer or the route. */
  KEEL_RATE_LIMITED: { status: 429, kind: 'rate_limit', cls: 'caller_over_limit' },
  /** The request's maximum cost does not fit in what is left of a budget this period. */
  KEEL_BUDGET_EXHAUSTED: { status: 429, kind: 'rate_limit', cls: 'caller_over_budget' },
  /** A guardrail with action block matched the request or the answer. */
  KEEL_GUARDRAIL_BLOCKED: { status: 400, kind: 'invalid_request', cls: 'caller_guardrail' },
  /**
   * `x-keel-cache: only-if-cached` (or Cache-Control: only-if-cached) and no entry answers. 412, not
   * RFC 9111 §5.2.1.7's 504: the SDKs retry every 5xx, and the caller's own condition failed.
   */
  KEEL_CACHE_MISS: { status: 412, kind: 'invalid_request', cls: 'caller_cache_miss' },
  /** A fail-closed stage (auth, limits, budgets) could not decide: Keel's fault, no provider touched. */
  KEEL_STAGE_FAILED: { status: 500, kind: 'api_error', cls: 'gateway_internal' },
  KEEL_UNKNOWN_ROUTE: { status: 404, kind: 'not_found', cls: 'caller_invalid' },
  KEEL_NOT_FOUND: { status: 404, kind: 'not_found', cls: 'caller_invalid' },
  /** The caller did not send its headers or body within server.request_timeout_ms. */
  KEEL_REQUEST_TIMEOUT: { status: 408, kind: 'timeout', cls: 'caller_stalled' },
  KEEL_BODY_TOO_LARGE: { status: 413, kind: 'request_too_large', cls: 'caller_too_large' },
  KEEL_HEADERS_TOO_LARGE: { status: 431, kind: 'request_too_large', cls: 'caller_too_large' },
  /** The provider rejected the request; status and message are the provider's. */
  KEEL_UPSTREAM_REJECTED: { status: 400, kind: 'invalid_request', cls: 'caller_rejected' },
  KEEL_UPSTREAM_RATE_LIMITED: { status: 429, kind: 'rate_limit', cls: 'provider_rate_limit' },
  KEEL_UPSTREAM_ERROR: { status: 502, kind: 'api_error', cls: 'provider_error' },
  /** The provider refused Keel's configured key: the operator's problem, not the caller's. */
  KEEL_UPSTREAM_AUTH: { status: 502, kind: 'api_error', cls: 'provider_credential' },
  /** Overloaded provider, refused connection, or no target could take the request (every breaker open). */
  KEEL_UPSTREAM_UNAVAILABLE: { status: 503, kind: 'overloaded', cls: 'provider_unavailable' },
  KEEL_UPSTREAM_TIMEOUT: { status: 504, kind: 'timeout', cls: 'provider_timeout' },
  KEEL_UPSTREAM_BAD_RESPONSE: { status: 502, kind: 'api_error', cls: 'provider_malformed' },
  KEEL_STREAM_BROKEN: { status: 502, kind: 'api_error', cls: 'provider_stream_broken' },
  /** Keel could not build or encode the upstream request (it never reached a provider). */
  KEEL_ENCODE_FAILED: { status: 500, kind: 'api_error', cls: 'gateway_encode' },
  KEEL_INTERNAL: { status: 500, kind: 'api_error', cls: 'gateway_internal' },
  /** Load shed: more requests in flight than server.max_in_flight (or the route's) allows. */
  KEEL_OVERLOADED: { status: 503, kind: 'overloaded', cls: 'gateway_overloaded' },
  KEEL_SHUTTING_DOWN: { status: 503, kind: 'overloaded', cls: 'gateway_shutdown' },
  /** The caller went away; 499 as nginx logs it. Not an error of Keel's or the provider's. */
  KEEL_CLIENT_CLOSED: { status: 499, kind: 'invalid_request', cls: 'caller_disconnected' },
  /** A streaming caller stopped reading for longer than server.write_timeout_ms: cut, both sides released. */
  KEEL_CLIENT_STALLED: { status: 408, kind: 'timeout', cls: 'caller_stalled' },
  /** Never reaches a caller: an attempt Keel stopped itself (the losing side of a hedge). */
  KEEL_ATTEMPT_CANCELLED: { status: 499, kind: 'invalid_request', cls: 'gateway_cancelled' },
  /**
   * Never reaches a caller: a regenerated answer (continuation: regenerate) that does not start with
   * the text already sent, stopped by Keel. No verdict on its target, which answered correctly.
   */
  KEEL_REGENERATION_DIVERGED: { status: 502, kind: 'api_error', cls: 'gateway_cancelled' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface KeelErrorOptions {
  /** Overrides the code's default status (used to relay a provider's own 4xx). */
  status?: number;
  param?: string;
  /** The provider's own error code or type, relayed to the caller when useful. */
  upstreamCode?: string;
  /** The provider's Retry-After, relayed to the caller. */
  retryAfterMs?: number;
  /** Overrides the code's default class where the origin says more (a reset, a context-length 400). */
  errorClass?: ErrorClass;
  cause?: unknown;
}

export class KeelError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly kind: ErrorKind;
  readonly errorClass: ErrorClass;
  readonly param: string | undefined;
  readonly upstreamCode: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: KeelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KeelError';
    this.code = code;
    const spec: ErrorSpec = ERROR_CODES[code];
    this.status = options.status ?? spec.status;
    this.kind = options.status === undefined ? spec.kind : kindOfStatus(options.status, spec.kind);
    this.errorClass = options.errorClass ?? spec.cls;
    this.param = options.param;
    this.upstreamCode = options.upstreamCode;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The error kind a relayed status implies; `fallback` when the status says nothing more. */
export function kindOfStatus(status: number, fallback: ErrorKind): ErrorKind {
  switch (status) {
    case 400:
    case 422:
      return 'invalid_request';
    case 401:
      return 'authentication';
    case 403:
      return 'permission';
    case 404:
      return 'not_found';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit';
    case 503:
    case 529:
      return 'overloaded';
    case 504:
      return 'timeout';
    default:
      return status >= 500 ? 'api_error' : fallback;
  }
}

/** Anything thrown becomes a KeelError; unknown throws are internal errors with a safe message. */
export function toKeelError(err: unknown): KeelError {
  if (err instanceof KeelError) return err;
  return new KeelError('KEEL_INTERNAL', 'Keel hit an internal error; the request was not completed.', { cause: err });
}
