import type { ErrorKind, KeelError } from '../../errors.js';

/** OpenAI error `type`s; OpenAI-compatible servers use the same names. */
const TYPES: Record<ErrorKind, string> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  request_too_large: 'invalid_request_error',
  rate_limit: 'rate_limit_error',
  api_error: 'api_error',
  overloaded: 'api_error',
  timeout: 'timeout_error',
};

export function renderError(err: KeelError): Record<string, unknown> {
  return { error: { message: err.message, type: TYPES[err.kind], param: err.param ?? null, code: err.upstreamCode ?? err.code } };
}

export function parseUpstreamError(body: unknown): { message?: string; code?: string; type?: string } {
  if (typeof body !== 'object' || body === null) return {};
  const error = (body as { error?: unknown }).error;
  if (typeof error === 'string') return { message: error };
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { message?: unknown; code?: unknown; type?: unknown };
  return {
    message: typeof e.message === 'string' ? e.message : undefined,
    code: typeof e.code === 'string' ? e.code : undefined,
    type: typeof e.type === 'string' ? e.type : undefined,
  };
}
