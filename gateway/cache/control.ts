import { KeelError } from '../errors.js';

/**
 * What a caller asks of the cache for one request (issue 16 §4), from `x-keel-cache`,
 * `x-keel-cache-ttl`, `x-keel-cache-namespace` and Cache-Control (RFC 9111 §5.2.1:
 * no-store, no-cache, only-if-cached). Pure; a bad value is the caller's 400, naming the header.
 */
export interface CacheControl {
  /** Look for a stored answer (false: bypass, refresh, no-cache). */
  lookup: boolean;
  /** Store this answer (false: bypass, no-store). */
  store: boolean;
  /** Answer only from the cache: a miss is 504 KEEL_CACHE_MISS, no provider is called. */
  onlyIfCached: boolean;
  /** The caller's ttl for an entry it stores, s (at most the route's). */
  ttlS: number | undefined;
  /** A sub-namespace inside the one the key may use. */
  namespace: string | undefined;
  /** The caller said bypass: the span says so. */
  bypass: boolean;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

const NAMESPACE = /^[A-Za-z0-9._-]{1,64}$/;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function bad(name: string, why: string): KeelError {
  return new KeelError('KEEL_INVALID_REQUEST', `header ${name}: ${why}`, { param: name });
}

const NO_DIRECTIVES: readonly string[] = [];

export function cacheControl(h: Headers, routeTtlS: number): CacheControl {
  const out: CacheControl = { lookup: true, store: true, onlyIfCached: false, ttlS: undefined, namespace: undefined, bypass: false };
  const mode = header(h, 'x-keel-cache')?.trim().toLowerCase();
  if (mode === 'bypass') Object.assign(out, { lookup: false, store: false, bypass: true });
  else if (mode === 'refresh') out.lookup = false;
  else if (mode === 'only-if-cached') out.onlyIfCached = true;
  else if (mode !== undefined && mode !== '') throw bad('x-keel-cache', 'use bypass, refresh or only-if-cached');
  const cc = header(h, 'cache-control');
  // Most requests carry none: no split and map of an empty header per request.
  const directives = cc === undefined ? NO_DIRECTIVES : cc.toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store')) out.store = false;
  if (directives.includes('no-cache')) out.lookup = false;
  if (directives.includes('only-if-cached')) out.onlyIfCached = true;
  const ttl = header(h, 'x-keel-cache-ttl')?.trim();
  if (ttl !== undefined) {
    if (!/^\d{1,9}$/.test(ttl) || Number(ttl) < 1) throw bad('x-keel-cache-ttl', 'a whole number of seconds, at least 1');
    out.ttlS = Math.min(Number(ttl), routeTtlS);
  }
  const ns = header(h, 'x-keel-cache-namespace')?.trim();
  if (ns !== undefined) {
    if (!NAMESPACE.test(ns)) throw bad('x-keel-cache-namespace', '1 to 64 of A-Z a-z 0-9 . _ -');
    out.namespace = ns;
  }
  if (out.onlyIfCached && !out.lookup) throw bad('x-keel-cache', 'only-if-cached cannot be combined with refresh, bypass or no-cache');
  return out;
}
