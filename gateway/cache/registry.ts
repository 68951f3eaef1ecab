import type { CacheLimitsConfig } from '../../config/cache-schema.js';
import type { GovernanceState } from '../state/types.js';
import { SemanticIndex } from './semantic.js';
import { CacheStore, type StoreStats } from './store.js';

/** The store's counters over this process, plus the vectors its semantic indexes hold. */
export interface CacheStats extends StoreStats {
  vectors: number;
}

/**
 * One cache store per gateway (per shared-state instance): every cached route of every config
 * snapshot shares its byte bound, so a reload keeps what was cached. Its bounds are the config's
 * when it was first needed (a reload that changes cache.max_bytes takes effect on restart).
 */
const stores = new Map<GovernanceState, CacheStore>();

export function cacheStoreFor(state: GovernanceState, limits: CacheLimitsConfig, log: (msg: string) => void): CacheStore {
  let store = stores.get(state);
  if (store === undefined) {
    // In-process state is this replica's own: the LRU alone is the cache, not stored twice.
    store = new CacheStore({ maxBytes: limits.max_bytes, maxEntryBytes: limits.max_entry_bytes, ...(state.backend === 'memory' ? {} : { shared: state }), log });
    stores.set(state, store);
  }
  return store;
}

const indexes = new Map<GovernanceState, SemanticIndex>();

/** The semantic index beside a store: vectors shared through the same state (none with in-process state). */
export function semanticFor(state: GovernanceState, limits: CacheLimitsConfig): SemanticIndex {
  let index = indexes.get(state);
  if (index === undefined) {
    index = new SemanticIndex({ maxVectors: limits.max_vectors, ...(state.backend === 'memory' ? {} : { shared: state }) });
    indexes.set(state, index);
  }
  return index;
}

/** Totals over this process's stores, for the keel.cache.* metrics. */
export function cacheStats(): CacheStats {
  const out: CacheStats = { stores: 0, evictions: 0, bytes: 0, entries: 0, vectors: 0 };
  for (const i of indexes.values()) out.vectors += i.size;
  for (const s of stores.values()) {
    const x = s.stats();
    out.stores += x.stores;
    out.evictions += x.evictions;
    out.bytes += x.bytes;
    out.entries += x.entries;
  }
  return out;
}

/** A gateway that closes forgets its store (tests start many in one process). */
export function dropCacheStore(state: GovernanceState): void {
  stores.delete(state);
  indexes.delete(state);
}
