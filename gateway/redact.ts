/**
 * Secrets out of text Keel shows to callers, logs or puts on spans. Providers echo
 * what they were sent ("Incorrect API key provided: sk-…", a proxy's "Bearer …"),
 * and a caller's strings come back in error messages: every such text passes here.
 * Pure functions; a redactor is built once per config snapshot (Runtime.redact).
 */

import { KEY_SHAPE_SOURCES } from './guardrails/secrets.js';

export type Redactor = (text: string) => string;

export const REDACTED = '[REDACTED]';

/**
 * Shapes redacted whatever the config says: Bearer credentials, the key shapes the secrets
 * guardrail knows (provider, cloud and SaaS keys, JWTs: one definition, in
 * gateway/guardrails/secrets.ts), and long token-like values after key=/token=/secret=.
 * Each alternative is anchored on a literal prefix, so the scan stays linear.
 */
const SHAPES: readonly string[] = [
  // `Bearer <token>`: the token is whatever runs up to a delimiter a header value or JSON string would end on.
  String.raw`(?<bearer>\bBearer\s+)[^\s"',;]+`,
  ...KEY_SHAPE_SOURCES,
  // key=…, api_key: "…", token=…: the name is kept so the message still says what was wrong.
  String.raw`(?<name>\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|token|secret|password|key)["']?\s*[=:]\s*["']?)[A-Za-z0-9+/_.~-]{16,}=*`,
];

/** Literal secrets shorter than this are not matched by value (they would garble ordinary words); shapes still apply. */
export const MIN_SECRET_LENGTH = 6;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(secrets: readonly string[]): RegExp {
  const literals = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH))]
    // Longest first: a key that contains another is removed whole, not in part.
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp);
  return new RegExp([...literals, ...SHAPES].join('|'), 'g');
}

function replacer(match: string, ...args: unknown[]): string {
  const groups = args[args.length - 1] as Record<string, string | undefined> | undefined;
  const keep = groups?.bearer ?? groups?.name;
  return keep === undefined ? REDACTED : `${keep}${REDACTED}`;
}

/** A redactor for these exact secrets (provider and client keys, the admin token) plus the common key shapes. */
export function buildRedactor(secrets: readonly string[]): Redactor {
  const pattern = compile(secrets);
  return (text) => (text === '' ? text : text.replace(pattern, replacer));
}

/** The shapes alone: for text outside any config snapshot, and the default where no redactor was passed. */
export const redactShapes: Redactor = buildRedactor([]);

/**
 * A caller-supplied string echoed in an error, cut to `max` characters: a 5 MB model name
 * must not come back as a 5 MB error (or a 5 MB log line).
 */
export function clip(text: string, max = 100): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
