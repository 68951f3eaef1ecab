import type { ErrorKind, KeelError } from '../../errors.js';

/** https://docs.anthropic.com/en/api/errors */
const TYPES: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  request_too_large: 'request_too_large',
  rate_limit: 'rate_limit_error',
  api_error: 'api_error',
  overloaded: 'overloaded_error',
  timeout: 'timeout_error',
};

export function errorType(kind: ErrorKind): string {
  return TYPES[kind];
}

export function renderError(err: KeelError): Record<string, unknown> {
  return { type: 'error', error: { type: TYPES[err.kind], message: err.message } };
}

export function parseUpstreamError(body: unknown): { message?: string; code?: string; type?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const error = (body as { error?: unknown }).error;
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { message?: unknown; type?: unknown };
  return { message: typeof e.message === 'string' ? e.message : undefined, type: typeof e.type === 'string' ? e.type : undefined };
}
