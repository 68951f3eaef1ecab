import type { SharedState } from '../state/types.js';
import { decodeEntry, encodeEntry, entryBytes, type CacheEntry } from './entry.js';
import { ByteLru } from './lru.js';

/**
 * The response cache's storage: this replica's byte-bounded LRU in front of the shared state
 * (Redis when `state.redis` is set), so an answer one replica bought is a hit on every other.
 * The shared tier is best-effort: a Redis that is away or slow (its deadline, then local
 * state: gateway/state/resilient.ts) makes a miss, never a failed request.
 */
export interface CacheLookup {
  entry: CacheEntry;
  /** Within its ttl; false: past it, inside the stale window (served only when every target failed). */
  fresh: boolean;
  ageMs: number;
}

export interface StoreStats {
  stores: number;
  evictions: number;
  bytes: number;
  entries: number;
}

export interface CacheStoreOptions {
  maxBytes: number;
  maxEntryBytes: number;
  /** Absent: one replica, the LRU is the whole cache. */
  shared?: SharedState;
  now?: () => number;
  log?: (msg: string) => void;
}

const PREFIX = 'cache:';

export class CacheStore {
  readonly #lru: ByteLru<CacheEntry>;
  readonly #o: CacheStoreOptions;
  readonly #now: () => number;
  #stores = 0;

  constructor(o: CacheStoreOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#lru = new ByteLru<CacheEntry>({ maxBytes: o.maxBytes, now: this.#now });
  }

  stats(): StoreStats {
    return { stores: this.#stores, evictions: this.#lru.evictions, bytes: this.#lru.bytes, entries: this.#lru.size };
  }

  /** The entry under `key`, fresh or within `staleMs` past its ttl; undefined otherwise. */
  async lookup(key: string, staleMs: number): Promise<CacheLookup | undefined> {
    const now = this.#now();
    const local = this.#lru.get(key);
    if (local !== undefined) return this.#view(local.value, now, staleMs);
    if (this.#o.shared === undefined) return undefined;
    const text = await this.#o.shared.get(PREFIX + key).catch(() => undefined);
    const entry = text === undefined ? undefined : decodeEntry(text);
    if (entry === undefined) return undefined;
    const found = this.#view(entry, now, staleMs);
    // Kept here too, for the windows it has left: the next hit on this replica costs no round trip.
    if (found !== undefined) this.#lru.set(key, entry, entryBytes(text ?? ''), entry.storedAtMs + entry.ttlMs, entry.storedAtMs + entry.ttlMs + staleMs);
    return found;
  }

  #view(entry: CacheEntry, now: number, staleMs: number): CacheLookup | undefined {
    const ageMs = Math.max(0, now - entry.storedAtMs);
    if (ageMs >= entry.ttlMs + staleMs) return undefined;
    return { entry, fresh: ageMs < entry.ttlMs, ageMs };
  }

  /**
   * Stores an entry here at once, and in the shared tier in the background (the caller already
   * has its answer); false when it is larger than cache.max_entry_bytes (never stored).
   */
  put(key: string, entry: CacheEntry, staleMs: number): boolean {
    const text = encodeEntry(entry);
    const bytes = entryBytes(text);
    if (bytes > this.#o.maxEntryBytes) return false;
    const freshUntil = entry.storedAtMs + entry.ttlMs;
    if (!this.#lru.set(key, entry, bytes, freshUntil, freshUntil + staleMs)) return false;
    this.#stores++;
    void this.#o.shared?.set(PREFIX + key, text, entry.ttlMs + staleMs).catch((err: unknown) => {
      this.#o.log?.(`cache: an entry could not be shared (${err instanceof Error ? err.message : String(err)}); it answers on this replica only`);
    });
    return true;
  }
}
