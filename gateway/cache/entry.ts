import { z } from 'zod';
import type { ChatResponse } from '../formats/canonical.js';

/**
 * A response-cache entry as stored in the in-process LRU and in Redis: the canonical answer
 * (text, tool calls, stop reasons, usage, the model that answered), so a hit can be rendered in
 * either API format, streaming or not, plus what the hit's telemetry reports (the provider, and
 * the answer's cost for "cost saved"). Vectors for the semantic cache live in its own index, not
 * here: an exact hit never needs them, and they would triple the entry's size.
 */
export interface CacheEntry {
  v: 1;
  response: ChatResponse;
  /** The provider that answered (the routing target's provider id). */
  provider: string;
  storedAtMs: number;
  ttlMs: number;
  /** What the answer cost when it was bought; a hit saves this much. Absent when unpriced. */
  costUsd?: number;
}

const count = z.number().int().nonnegative();

const imageSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('url'), url: z.string() }),
  z.object({ kind: z.literal('base64'), mediaType: z.string(), data: z.string() }),
]);

const part = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({ type: z.literal('image'), source: imageSource }),
  z.object({ type: z.literal('tool_call'), id: z.string(), name: z.string(), arguments: z.string() }),
  z.object({ type: z.literal('tool_result'), toolCallId: z.string(), content: z.string(), isError: z.boolean().optional() }),
]);

const finishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter', 'stop_sequence', 'error']);

const chatResponse = z.object({
  id: z.string(),
  model: z.string(),
  created: z.number(),
  choices: z.array(z.object({ index: count, content: z.array(part), finishReason, stopSequence: z.string().optional() })),
  usage: z.object({ inputTokens: count, outputTokens: count, cacheReadTokens: count.optional(), cacheWriteTokens: count.optional() }),
});

/**
 * Strict about shape, not about extra fields: a value written by a newer Keel with one more
 * field still decodes (the extra is dropped); one with a different `v` does not.
 */
const cacheEntry = z.object({
  v: z.literal(1),
  response: chatResponse,
  provider: z.string(),
  storedAtMs: z.number(),
  ttlMs: z.number().nonnegative(),
  costUsd: z.number().nonnegative().optional(),
});

export function encodeEntry(e: CacheEntry): string {
  return JSON.stringify(e);
}

/**
 * The entry in `s`, or undefined when `s` is not one: Redis is shared, so a value may be corrupt,
 * truncated, from another Keel version or from something else entirely. A bad value is a miss,
 * never an error on the request path.
 */
export function decodeEntry(s: string): CacheEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(s);
  } catch {
    return undefined;
  }
  const parsed = cacheEntry.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** An entry's size for the LRU's byte bound: the UTF-8 length of its encoding. */
export function entryBytes(encoded: string): number {
  return Buffer.byteLength(encoded, 'utf8');
}
