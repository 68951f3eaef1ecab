import type { z } from 'zod';
import { KeelError } from '../errors.js';
import type { ChatRequest, FormatId } from './canonical.js';

/** The first zod issue as a KEEL_INVALID_REQUEST naming the field (`param` = dotted path). */
export function invalid(error: z.ZodError, prefix: readonly (string | number)[] = []): KeelError {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])];
  const param = path.length === 0 ? undefined : path.map(String).join('.');
  const reason = (issue?.message ?? 'invalid request').replace(/^Invalid input: /, '');
  return new KeelError('KEEL_INVALID_REQUEST', param === undefined ? reason : `${param}: ${reason}`, { param });
}

export function badUpstream(what: string, error?: z.ZodError): KeelError {
  const issue = error?.issues[0];
  const where = issue === undefined ? '' : ` (${issue.path.map(String).join('.')}: ${issue.message})`;
  return new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `the provider sent ${what} Keel could not read${where}`);
}

/** JSON.parse that maps failure to KEEL_UPSTREAM_BAD_RESPONSE (stream chunks, bodies). */
export function parseUpstreamJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badUpstream('a chunk that is not JSON');
  }
}

/** Tool-call arguments are JSON text; targets that want objects get them parsed here. */
export function argumentsObject(args: string, where: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    throw new KeelError('KEEL_INVALID_REQUEST', `${where}: tool call arguments are not valid JSON`, { param: where });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeelError('KEEL_INVALID_REQUEST', `${where}: tool call arguments must be a JSON object`, { param: where });
  }
  return value as Record<string, unknown>;
}

export function sse(data: unknown, event?: string): string {
  const json = JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * canAssemble for a format whose listed request fields ask for answer parts the canonical
 * model does not carry: a caller of that same format who set one gets the provider's own body.
 */
export function assemblesUnless(format: FormatId, fields: readonly string[]): (req: ChatRequest) => boolean {
  return (req) => req.original.format !== format || fields.every((f) => req.original.body[f] === undefined || req.original.body[f] === null || req.original.body[f] === false);
}

/** A builder for `target` refuses a request carrying what only the caller's own format can express. */
export function requireTranslatable(req: ChatRequest, target: FormatId): void {
  const only = req.sameFormatOnly;
  if (only === undefined || req.original.format === target) return;
  throw new KeelError('KEEL_UNSUPPORTED', `${only.param}: ${only.reason} (this route's target speaks ${target}).`, { param: only.param });
}

/**
 * One SSE event of a format whose events name their `type` (Anthropic Messages, OpenAI
 * Responses), validated against the format's closed union; undefined for a type Keel does not
 * know, since providers add event types over time and those carry nothing Keel needs.
 */
export function typedEvent<T>(data: string, known: ReadonlySet<string>, schema: z.ZodType<T>, fast?: (json: unknown) => T | undefined): T | undefined {
  const json = parseUpstreamJson(data);
  const kind = (json as { type?: unknown } | null)?.type;
  if (typeof kind !== 'string') throw badUpstream('a stream event without a type');
  if (!known.has(kind)) return undefined;
  // A format's recogniser for its commonest event (a token), accepting only what `schema` accepts.
  const quick = fast?.(json);
  if (quick !== undefined) return quick;
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw badUpstream(`a ${kind} event`, parsed.error);
  return parsed.data;
}
