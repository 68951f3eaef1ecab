import type { SpanLimits } from '@opentelemetry/sdk-trace-base';

/**
 * Size bounds on everything Keel puts in a span (DESIGN.md §6: every buffer has a bound).
 * A caller chooses the model name, the request id and more; none of it may turn into a
 * 5 MB span name, attribute, export or ClickHouse row.
 *
 * Lengths are in UTF-16 code units (String.length): what the SDK counts, and cheap.
 */

/**
 * The model as it appears in a span name (`{operation} {model}`). Span names are meant to be
 * short, low-cardinality labels (OTel trace API, "Span" naming); 128 keeps every real model
 * and route name (the longest seen, Bedrock inference-profile ARNs, are ~100) whole.
 */
export const SPAN_NAME_MODEL_CHARS = 128;

/**
 * Every identifier-like string attribute Keel writes (models, route, request id, key id,
 * team, provider codes): twice the span-name budget, so an ARN or a UUID-rich id survives whole.
 */
export const IDENTIFIER_CHARS = 256;

/**
 * Each captured-content attribute (gen_ai.input.messages, …output.messages,
 * …system_instructions), kept valid JSON by boundedJson. 64 Ki chars is ~16k tokens of
 * English: the system prompt and the recent turns, enough to debug a request, while three of
 * them still leave a span far below the export batch bound.
 */
export const CONTENT_CHARS = 65_536;

/**
 * The SDK's limits, a backstop under Keel's own cuts. The value-length cap has to be the
 * content cap: the SDK has one cap for every attribute, and a smaller one would cut the
 * content JSON mid-string (unparseable). 128 attributes is the SDK's default made explicit:
 * Keel writes under 50 per span, so the cap bounds future per-request metadata, never ours.
 */
export const SPAN_LIMITS: SpanLimits = {
  attributeValueLengthLimit: CONTENT_CHARS,
  attributeCountLimit: 128,
  eventCountLimit: 128,
  linkCountLimit: 128,
};

/**
 * Encoded bytes per export request (exact: spans are queued encoded). Far under the
 * collector's 32 MiB body cap; one group past it goes alone (batchLength), and a group is at
 * most SEAL_SPANS spans, each bounded by SPAN_LIMITS and the cuts above.
 */
export const EXPORT_BATCH_BYTES = 4 * 1024 * 1024;

/** Encoded bytes waiting per destination: 16 full batches; spans beyond are dropped and counted. */
export const QUEUE_BYTES = 16 * EXPORT_BATCH_BYTES;

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** `s` cut to at most `max` units, marked with `…`, never leaving half a surrogate pair. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let end = Math.max(0, max - 1);
  if (end > 0 && isHighSurrogate(s.charCodeAt(end - 1))) end--;
  return `${s.slice(0, end)}…`;
}

/** Strings shorter than this are never cut by boundedJson: roles, part types, ids stay readable. */
const KEPT_CHARS = 64;

function cutStrings(items: readonly unknown[], max: number): string {
  return JSON.stringify(items, (_key, v: unknown) => (typeof v === 'string' ? clip(v, max) : v));
}

/** Lengths of every string value in `items`, from one walk. */
function stringLengths(items: readonly unknown[]): number[] {
  const out: number[] = [];
  JSON.stringify(items, (_key, v: unknown) => {
    if (typeof v === 'string') out.push(v.length);
    return v;
  });
  return out;
}

/**
 * The largest L with Σ min(len, L) ≤ budget ("water-filling"). Escaping only lengthens the
 * JSON, so no cut above L can fit: the search starts there, and each of its passes
 * serialises about `budget` units rather than the whole (possibly huge) original.
 */
function waterLevel(lengths: number[], budget: number): number {
  const sorted = [...lengths].sort((a, b) => a - b);
  let left = budget;
  for (let i = 0; i < sorted.length; i++) {
    const len = sorted[i] ?? 0;
    const rest = sorted.length - i;
    if (len * rest > left) return Math.floor(left / rest);
    left -= len;
  }
  return sorted[sorted.length - 1] ?? 0;
}

/** The longest per-string cut (binary search: the JSON only grows with it) that fits `max`. */
function longestFitting(items: readonly unknown[], max: number): string {
  let lo = KEPT_CHARS;
  let hi = Math.max(lo, Math.min(max, waterLevel(stringLengths(items), max)));
  let best = cutStrings(items, lo);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const json = cutStrings(items, mid);
    if (json.length <= max) {
      lo = mid;
      best = json;
    } else hi = mid - 1;
  }
  return best;
}

/**
 * A list as JSON of at most `max` units that is still valid JSON in the same shape: long
 * strings are cut (all to one length, the longest that fits), and when the structure alone
 * is too big, the oldest items go first (the newest turns matter most when debugging).
 */
export function boundedJson(items: readonly unknown[], max: number): { json: string; truncated: boolean } {
  const json = JSON.stringify(items);
  if (json.length <= max) return { json, truncated: false };
  const kept = newestFitting(items, max);
  return { json: kept.length === 0 ? '[]' : longestFitting(kept, max), truncated: true };
}

/**
 * The newest items that fit `max` with their strings cut to KEPT_CHARS. Walked from the end,
 * one item at a time, so the cost is what is kept, not the (possibly 200k-message) whole.
 */
function newestFitting(items: readonly unknown[], max: number): readonly unknown[] {
  let total = 2; // the brackets
  let i = items.length;
  while (i > 0) {
    // "[item]" less its brackets, plus the comma before every item but the last.
    const len = cutStrings([items[i - 1]], KEPT_CHARS).length - 2 + (i === items.length ? 0 : 1);
    if (total + len > max) break;
    total += len;
    i--;
  }
  return items.slice(i);
}

/**
 * How many of the queue's first groups of encoded spans make the next export: at most
 * `maxSpans` spans and `maxBytes` bytes, except that one group always goes (alone) so an
 * oversized one cannot wedge the queue.
 */
export function batchLength(queue: readonly { bytes: { length: number }; spans: number }[], maxSpans: number, maxBytes: number): number {
  let bytes = 0;
  let spans = 0;
  let n = 0;
  for (const g of queue) {
    if (n > 0 && (spans + g.spans > maxSpans || bytes + g.bytes.length > maxBytes)) break;
    bytes += g.bytes.length;
    spans += g.spans;
    n++;
  }
  return n;
}
