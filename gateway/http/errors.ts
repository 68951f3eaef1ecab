import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { KeelError, toKeelError } from '../errors.js';
import type { FormatId } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import type { WireFormat } from '../formats/types.js';
import { redactorOf } from './auth.js';

/** The caller's API format for a URL: the Anthropic surface gets Anthropic errors, everything else OpenAI's. */
export function formatForUrl(url: string): WireFormat {
  const id: FormatId = url.startsWith('/v1/messages') ? 'anthropic-messages' : url.startsWith('/v1/responses') ? 'openai-responses' : 'openai-chat';
  return formats[id];
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'string';
}

/** Framework errors (body parsing, limits) become Keel errors with a message the caller can act on. */
export function fromFramework(err: unknown, bodyLimit: number): KeelError {
  if (err instanceof KeelError) return err;
  if (!isFastifyError(err)) return toKeelError(err);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new KeelError('KEEL_BODY_TOO_LARGE', `The request body is larger than this gateway accepts (${bodyLimit} bytes; server.body_limit_bytes).`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new KeelError('KEEL_INVALID_JSON', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new KeelError('KEEL_UNSUPPORTED_MEDIA_TYPE', 'Send the request body as application/json.');
    default:
      if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
        return new KeelError('KEEL_INVALID_REQUEST', err.message, { status: err.statusCode });
      }
      return toKeelError(err);
  }
}

/** What an error response says about the attempts behind it (none when it failed before routing). */
export interface AttemptCounts {
  attempts: readonly unknown[];
  retries: number;
  fallbacks: number;
}

const NO_ATTEMPTS: AttemptCounts = { attempts: [], retries: 0, fallbacks: 0 };

export function sendError(request: FastifyRequest, reply: FastifyReply, err: KeelError, counts: AttemptCounts = NO_ATTEMPTS): void {
  const format = formatForUrl(request.url);
  if (err.retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
  // Shedding is counted in the request records; a log line per shed request would add load exactly when there is too much.
  if (err.status >= 500 && err.code !== 'KEEL_OVERLOADED') {
    // Logs outlive the response: whatever a provider echoed into the message leaves here redacted.
    request.log.warn({ code: err.code, errorClass: err.errorClass, upstreamCode: err.upstreamCode, status: err.status }, redactorOf(request)(err.message));
  }
  void reply
    .code(err.status)
    .headers({
      'x-keel-error-code': err.code,
      'x-keel-error-class': err.errorClass,
      'x-keel-attempts': String(counts.attempts.length),
      'x-keel-retries': String(counts.retries),
      'x-keel-fallbacks': String(counts.fallbacks),
    })
    .send(format.renderError(err));
}
