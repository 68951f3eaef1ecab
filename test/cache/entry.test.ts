import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, entryBytes, type CacheEntry } from '../../gateway/cache/entry.js';
import { formats } from '../../gateway/formats/index.js';
import type { ChatResponse, Part } from '../../gateway/formats/index.js';
import { anthropicResponse, jsonish, openaiResponse, text } from '../property/arbitraries.js';

const count = fc.nat({ max: 1_000_000 });
const part: fc.Arbitrary<Part> = fc.oneof(
  fc.record({ type: fc.constant('text' as const), text }),
  fc.record({ type: fc.constant('tool_call' as const), id: text, name: text, arguments: text }),
  fc.record({ type: fc.constant('image' as const), source: fc.oneof(fc.record({ kind: fc.constant('url' as const), url: text }), fc.record({ kind: fc.constant('base64' as const), mediaType: text, data: text })) }),
  fc.record({ type: fc.constant('tool_result' as const), toolCallId: text, content: text, isError: fc.boolean() }, { requiredKeys: ['type', 'toolCallId', 'content'] }),
);
const response: fc.Arbitrary<ChatResponse> = fc.record({
  id: text,
  model: text,
  created: fc.nat(),
  choices: fc.array(
    fc.record(
      { index: fc.nat({ max: 4 }), content: fc.array(part, { maxLength: 3 }), finishReason: fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', 'stop_sequence', 'error'), stopSequence: text },
      { requiredKeys: ['index', 'content', 'finishReason'] },
    ),
    { maxLength: 3 },
  ),
  usage: fc.record({ inputTokens: count, outputTokens: count, cacheReadTokens: count, cacheWriteTokens: count }, { requiredKeys: ['inputTokens', 'outputTokens'] }),
});
const entry: fc.Arbitrary<CacheEntry> = fc.record(
  { v: fc.constant(1 as const), response, provider: text, storedAtMs: fc.nat(), ttlMs: fc.nat(), costUsd: fc.double({ min: 0, max: 100, noNaN: true }) },
  { requiredKeys: ['v', 'response', 'provider', 'storedAtMs', 'ttlMs'] },
);

/** What JSON keeps of a value: -0 becomes 0. */
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe('cache entry codec', () => {
  it('round-trips every entry', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const s = encodeEntry(e);
        expect(decodeEntry(s)).toEqual(viaJson(e));
        expect(entryBytes(s)).toBe(new TextEncoder().encode(s).length);
      }),
      { numRuns: 1_000 },
    );
  });

  it('round-trips the answers the formats parse from real provider bodies', () => {
    const parsed = fc.oneof(openaiResponse.map((b) => formats['openai-chat'].parseResponse(b)), anthropicResponse.map((b) => formats['anthropic-messages'].parseResponse(b)));
    fc.assert(
      fc.property(parsed, (res) => {
        const e: CacheEntry = { v: 1, response: res, provider: 'p', storedAtMs: 1, ttlMs: 60_000, costUsd: 0.002 };
        expect(decodeEntry(encodeEntry(e))).toEqual(viaJson(e));
      }),
      { numRuns: 500 },
    );
  });

  it('counts bytes, not UTF-16 code units', () => {
    const e: CacheEntry = { v: 1, response: { id: 'é😀', model: 'm', created: 0, choices: [], usage: { inputTokens: 0, outputTokens: 0 } }, provider: 'p', storedAtMs: 0, ttlMs: 0 };
    const s = encodeEntry(e);
    expect(entryBytes(s)).toBe(s.length + 1 + 2);
  });

  it('any string at all decodes to an entry or to undefined, never a throw', () => {
    const strings = fc.oneof(fc.string({ unit: 'binary' }), jsonish.map((v) => JSON.stringify(v) ?? ''), fc.constantFrom('', 'null', '[]', '{}', '{"v":1}', '1e999', '"'.repeat(3), '['.repeat(100_000)));
    fc.assert(fc.property(strings, (s) => {
        expect(() => decodeEntry(s)).not.toThrow();
      }), { numRuns: 2_000 });
  });

  it('a valid entry with one field broken is refused', () => {
    const good: CacheEntry = { v: 1, response: { id: 'r', model: 'm', created: 1, choices: [{ index: 0, content: [{ type: 'text', text: 'hi' }], finishReason: 'stop' }], usage: { inputTokens: 3, outputTokens: 1 } }, provider: 'p', storedAtMs: 1, ttlMs: 10 };
    expect(decodeEntry(encodeEntry(good))).toEqual(good);
    const broken: unknown[] = [
      { ...good, v: 2 },
      { ...good, response: { ...good.response, choices: [{ index: 0, content: [{ type: 'text' }], finishReason: 'stop' }] } },
      { ...good, response: { ...good.response, choices: [{ index: 0, content: [], finishReason: 'finished' }] } },
      { ...good, response: { ...good.response, usage: { inputTokens: -1, outputTokens: 1 } } },
      { ...good, provider: undefined },
      { ...good, costUsd: 'free' },
    ];
    for (const b of broken) expect(decodeEntry(JSON.stringify(b)), JSON.stringify(b)).toBeUndefined();
  });

  it('mutated encodings of valid entries never throw, and what still decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(entry, fc.nat(), fc.string({ maxLength: 4 }), (e, at, junk) => {
        const s = encodeEntry(e);
        const i = at % (s.length + 1);
        const cut = s.slice(0, i) + junk + s.slice(i + junk.length);
        const out = decodeEntry(cut);
        if (out !== undefined) expect(decodeEntry(encodeEntry(out))).toEqual(out);
      }),
      { numRuns: 1_000 },
    );
  });
});
