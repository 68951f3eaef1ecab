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

/**
 * What one LRU slot costs beside its entry's text: the key string, the Map entry and the slot
 * object with its links and times (V8: ~16 B per string header, ~100 B for a small object and
 * its Map entry). Counted so that cache.max_bytes bounds the memory the cache really holds.
 */
const SLOT_BYTES = 160;

/**
 * Entries are kept as their encoded text, not as the parsed answer: a parsed ChatResponse is
 * several objects and strings, about 7 times its JSON in heap (bench:soak: 190,000 entries
 * counted as 64 MiB of text grew the gateway by ~500 MiB), so bytes counted as text did not
 * bound memory. A hit decodes its entry (microseconds).
 */
const slotBytes = (key: string, text: string) => entryBytes(text) + key.length + SLOT_BYTES;

export class CacheStore {
  readonly #lru: ByteLru<string>;
  readonly #o: CacheStoreOptions;
  readonly #now: () => number;
  #stores = 0;

  constructor(o: CacheStoreOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#lru = new ByteLru<string>({ maxBytes: o.maxBytes, now: this.#now });
  }

  stats(): StoreStats {
    return { stores: this.#stores, evictions: this.#lru.evictions, bytes: this.#lru.bytes, entries: this.#lru.size };
  }

  /** The entry under `key`, fresh or within `staleMs` past its ttl; undefined otherwise. */
  async lookup(key: string, staleMs: number): Promise<CacheLookup | undefined> {
    const now = this.#now();
    const local = this.#lru.get(key);
    const kept = local === undefined ? undefined : decodeEntry(local.value);
    if (kept !== undefined) return this.#view(kept, now, staleMs);
    if (this.#o.shared === undefined) return undefined;
    const text = await this.#o.shared.get(PREFIX + key).catch(() => undefined);
    const entry = text === undefined ? undefined : decodeEntry(text);
    if (entry === undefined) return undefined;
    const found = this.#view(entry, now, staleMs);
    // Kept here too, for the windows it has left: the next hit on this replica costs no round trip.
    if (found !== undefined && text !== undefined) this.#lru.set(key, text, slotBytes(key, text), entry.storedAtMs + entry.ttlMs, entry.storedAtMs + entry.ttlMs + staleMs);
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
    if (entryBytes(text) > this.#o.maxEntryBytes) return false;
    const freshUntil = entry.storedAtMs + entry.ttlMs;
    if (!this.#lru.set(key, text, slotBytes(key, text), freshUntil, freshUntil + staleMs)) return false;
    this.#stores++;
    void this.#o.shared?.set(PREFIX + key, text, entry.ttlMs + staleMs).catch((err: unknown) => {
      this.#o.log?.(`cache: an entry could not be shared (${err instanceof Error ? err.message : String(err)}); it answers on this replica only`);
    });
    return true;
  }
}
