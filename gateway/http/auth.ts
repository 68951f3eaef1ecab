import type { FastifyRequest } from 'fastify';
import { KeelError } from '../errors.js';
import { redactShapes, type Redactor } from '../redact.js';
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
  if (identity.disabled) throw new KeelError('KEEL_UNAUTHENTICATED', 'The API key is disabled. Ask the gateway\'s operator for another one.');
  if (identity.expiresAtMs !== undefined && Date.now() >= identity.expiresAtMs) {
    throw new KeelError('KEEL_UNAUTHENTICATED', `The API key expired at ${new Date(identity.expiresAtMs).toISOString()}. Ask the gateway's operator for a new one.`);
  }
  return identity;
}

/** What onRequest decided for a request: the config snapshot it runs on and who sent it. */
export interface Admission {
  runtime: Runtime;
  client: ClientIdentity | undefined;
}

const admissions = new WeakMap<FastifyRequest, Admission>();

/**
 * Authenticates in onRequest, before fastify reads the body: a caller without a valid key
 * costs Keel its headers, never a 10 MB body read and parsed. The snapshot taken here is the
 * one the whole request runs on.
 */
export function admit(request: FastifyRequest, runtime: Runtime): Admission {
  const admission = { runtime, client: authenticate(request, runtime) };
  admissions.set(request, admission);
  return admission;
}

/** The admission onRequest made; computed now for a request that skipped it (none on the API routes). */
export function admissionOf(request: FastifyRequest, runtime: () => Runtime): Admission {
  return admissions.get(request) ?? admit(request, runtime());
}

/** The redactor of the request's snapshot, or the key shapes alone before one was taken. */
export function redactorOf(request: FastifyRequest): Redactor {
  return admissions.get(request)?.runtime.redact ?? redactShapes;
}
