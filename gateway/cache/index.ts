/**
 * gateway/cache: the response cache's parts (issue 16); the stage that uses them is
 * gateway/stages/cache.ts. Pure: the key (`key.ts`, `residue.ts`, `canonical-json.ts`), the
 * caller's controls (`control.ts`), the entry codec (`entry.ts`), stream replay (`replay.ts`,
 * `accumulate.ts`). Storage: the byte-bounded LRU (`lru.ts`) in front of the shared state
 * (`store.ts`), the semantic index (`vector-index.ts` on usearch, `semantic.ts` sharing vectors
 * across replicas), one of each per gateway (`registry.ts`). I/O: the embedding call through
 * Keel's own pipeline (`embed.ts`) and a hit's response (`serve.ts`).
 */
export { cacheControl, type CacheControl } from './control.js';
export { cacheKey, textForEmbedding, toolsSignature } from './key.js';
export { decodeEntry, encodeEntry, type CacheEntry } from './entry.js';
export { replayEvents, entryToSse } from './replay.js';
export { cacheStats, cacheStoreFor, semanticFor, type CacheStats } from './registry.js';
export { CacheStore, type CacheLookup, type StoreStats } from './store.js';
export { SemanticIndex } from './semantic.js';
export { createVectorIndex, type VectorIndex } from './vector-index.js';
