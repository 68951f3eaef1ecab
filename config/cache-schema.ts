import { z } from 'zod';

/**
 * The response cache (issue 16), per route: exact (a hash of the request as it will be
 * answered) and optionally semantic (the request's text embedded through one of Keel's own
 * embeddings routes, compared by cosine similarity). Entries live in this replica's memory and,
 * with `state.redis`, in Redis, so every replica shares hits.
 */
export const semanticCacheSchema = z
  .object({
    /** An embeddings route of this config: the lookup goes through it, with its retries and telemetry. */
    embeddings_route: z.string().min(1),
    /** Cosine similarity at or above which a stored answer is served; 0.95 keeps paraphrases and drops near-misses. */
    similarity: z.number().min(0.5).max(1).default(0.95),
    /** Asks the embeddings route for vectors of this size (OpenAI's `dimensions`); absent: the model's own. */
    dimensions: z.number().int().min(2).max(8192).optional(),
    /** How many trailing messages (with the system prompt) make the text that is embedded. */
    last_messages: z.number().int().min(1).max(50).default(1),
  })
  .strict();

export const routeCacheSchema = z
  .object({
    /** How long an entry answers (fresh). A day at most: an answer older than that is rarely what a caller wants. */
    ttl_s: z.number().int().positive().max(86_400).default(300),
    /** Who shares entries: each key, each team (the default: a tenant never receives another's answer), or everyone. */
    namespace: z.enum(['key', 'team', 'shared']).default('team'),
    /** Past ttl_s, an entry still answers for this long when every target fails (marked `stale`). */
    stale_if_error_s: z.number().int().min(0).max(7 * 86_400).default(0),
    /** The OpenAI `user` field changes the key (off: two users asking the same thing share the answer). */
    include_user: z.boolean().default(false),
    semantic: semanticCacheSchema.optional(),
  })
  .strict();

/** Global bounds: the in-process tier's size, and the largest answer stored. */
export const cacheLimitsSchema = z
  .object({
    max_bytes: z.number().int().positive().default(64 * 1024 * 1024),
    max_entry_bytes: z.number().int().positive().default(1024 * 1024),
    /** Vectors the semantic index keeps in this process (1,536 floats are ~3 KiB each in bf16). */
    max_vectors: z.number().int().positive().default(200_000),
  })
  .strict();

export type RouteCacheConfig = z.infer<typeof routeCacheSchema>;
export type SemanticCacheConfig = z.infer<typeof semanticCacheSchema>;
export type CacheLimitsConfig = z.infer<typeof cacheLimitsSchema>;
