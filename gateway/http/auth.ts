import type { FastifyRequest } from 'fastify';
import { KeelError } from '../errors.js';
import { hashKey, type ClientIdentity, type Runtime } from '../runtime/resolve.js';

/**
 * Identifies the caller from the credential its SDK sends: the OpenAI SDK sends
 * `Authorization: Bearer`, the Anthropic SDK `x-api-key` (or a Bearer token with
 * newer `anthropic-version`s), Azure-style clients `api-key`. The credential stays
 * here: upstream requests carry only the provider key from config.
 */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (match?.[1] !== undefined) return match[1].trim();
  }
  for (const name of ['x-api-key', 'api-key'] as const) {
    const value = request.headers[name];
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/** The caller's identity; throws 401 when keys are configured and none valid is presented. */
export function authenticate(request: FastifyRequest, runtime: Runtime): ClientIdentity | undefined {
  if (runtime.clientKeys === undefined) return undefined;
  const key = presentedKey(request);
  if (key === undefined) {
    throw new KeelError('KEEL_UNAUTHENTICATED', 'No API key was sent. Send your Keel key as `Authorization: Bearer <key>` or `x-api-key: <key>`.');
  }
  const identity = runtime.clientKeys.get(hashKey(key));
  if (identity === undefined) throw new KeelError('KEEL_UNAUTHENTICATED', 'The API key is not valid for this gateway.');
  return identity;
}
