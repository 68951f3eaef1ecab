import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';

/** Client keys and tokens are bearer secrets: long enough not to be guessed, never a sample value left in. */
const MIN_KEY_LENGTH = 20;
const PLACEHOLDER = /^(change[-_ ]?me|changeit|secret|password|passw0rd|test|example|placeholder|your[-_ ]?key|xxx+|todo|null|none|default|keel|admin|1234\d*)$/i;

export function checkSecret(value: string, path: (string | number)[], ctx: z.RefinementCtx): void {
  // The value is never echoed: it is a secret, and may have come from the environment.
  if (PLACEHOLDER.test(value.trim()) || /change[-_ ]?me|your[-_ ]?(api[-_ ]?)?key|<.*>/i.test(value)) {
    ctx.addIssue({ code: 'custom', path, message: 'is a placeholder value; set a real secret (e.g. `keel keys create`, or `openssl rand -hex 24`)' });
  } else if (value.length < MIN_KEY_LENGTH) {
    ctx.addIssue({ code: 'custom', path, message: `is too short (${value.length} characters); use at least ${MIN_KEY_LENGTH} random characters` });
  }
}

/** Addresses only this machine can reach: a listener there needs no token (DESIGN.md §6, secure by default). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Hex SHA-256 of a string's UTF-8 bytes, one-shot: crypto.hash skips the Hash object createHash
 * builds (a 237-character text: createHash 1.75-2.05 µs, hash 0.74-0.91, 6 rounds); the digest is
 * the same for any string (test/cache/key.test.ts, test/config/secret.test.ts). Client keys are
 * hashed on every authenticated request, cache keys on every cacheable one.
 */
export const sha256Hex = (text: string): string => hash('sha256', text, 'hex');

/**
 * How a client key is looked up and may be stored in config (`key_sha256`): hex SHA-256 of its
 * UTF-8 bytes. Hashed per request rather than memoised: a memo of presented keys would keep
 * callers' plaintext keys on the heap for a snapshot's lifetime; the hash is what Keel holds.
 */
export function hashKey(key: string): string {
  return sha256Hex(key);
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Whether a presented secret equals the expected one, in time independent of where they differ.
 * Both sides are hashed first so timingSafeEqual gets equal lengths and the length of the
 * secret does not leak either.
 */
export function secretMatches(presented: string | undefined, expected: string): boolean {
  return presented !== undefined && timingSafeEqual(digest(presented), digest(expected));
}

/**
 * The secret an HTTP request carries: `Authorization: Bearer <token>`, or Basic with the token as
 * the password (what a browser sends after its own login prompt, for the SLO status page).
 */
export function presentedToken(authorization: string | undefined): string | undefined {
  const m = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m === null) return undefined;
  const [, scheme = '', value = ''] = m;
  if (scheme.toLowerCase() === 'bearer') return value;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}
