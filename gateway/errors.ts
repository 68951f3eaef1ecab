/**
 * The closed set of errors Keel returns, each with a stable code. This is the
 * one place that maps them to HTTP status; wire formats turn the `kind` into
 * their own error type names (OpenAI `invalid_request_error`, Anthropic
 * `invalid_request_error` / `overloaded_error`, ...).
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

interface ErrorSpec {
  status: number;
  kind: ErrorKind;
}

export const ERROR_CODES = {
  KEEL_INVALID_JSON: { status: 400, kind: 'invalid_request' },
  KEEL_INVALID_REQUEST: { status: 400, kind: 'invalid_request' },
  KEEL_UNSUPPORTED: { status: 400, kind: 'invalid_request' },
  KEEL_UNSUPPORTED_MEDIA_TYPE: { status: 415, kind: 'invalid_request' },
  KEEL_UNAUTHENTICATED: { status: 401, kind: 'authentication' },
  KEEL_UNKNOWN_ROUTE: { status: 404, kind: 'not_found' },
  KEEL_NOT_FOUND: { status: 404, kind: 'not_found' },
  KEEL_BODY_TOO_LARGE: { status: 413, kind: 'request_too_large' },
  /** The provider rejected the request; status and message are the provider's. */
  KEEL_UPSTREAM_REJECTED: { status: 400, kind: 'invalid_request' },
  KEEL_UPSTREAM_RATE_LIMITED: { status: 429, kind: 'rate_limit' },
  KEEL_UPSTREAM_ERROR: { status: 502, kind: 'api_error' },
  /** The provider refused Keel's configured key: the operator's problem, not the caller's. */
  KEEL_UPSTREAM_AUTH: { status: 502, kind: 'api_error' },
  KEEL_UPSTREAM_UNAVAILABLE: { status: 503, kind: 'overloaded' },
  KEEL_UPSTREAM_TIMEOUT: { status: 504, kind: 'timeout' },
  KEEL_UPSTREAM_BAD_RESPONSE: { status: 502, kind: 'api_error' },
  KEEL_STREAM_BROKEN: { status: 502, kind: 'api_error' },
  KEEL_INTERNAL: { status: 500, kind: 'api_error' },
  /** The caller went away; 499 as nginx logs it. Not an error of Keel's or the provider's. */
  KEEL_CLIENT_CLOSED: { status: 499, kind: 'invalid_request' },
  /** Never reaches a caller: an attempt Keel stopped itself (the losing side of a hedge). */
  KEEL_ATTEMPT_CANCELLED: { status: 499, kind: 'invalid_request' },
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
  cause?: unknown;
}

export class KeelError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly kind: ErrorKind;
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
