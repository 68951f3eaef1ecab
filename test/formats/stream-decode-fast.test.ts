import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainTokenChunk } from '../../gateway/formats/openai-chat/stream.js';
import { streamChunk } from '../../gateway/formats/openai-chat/schema.js';
import { event, tokenDelta } from '../../gateway/formats/anthropic-messages/decoder.js';
import { anthropicEvent, mutations, openaiChunk } from '../property/arbitraries.js';

/** As the gateway reads a chunk: through JSON text. */
const wire = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null') as unknown;
/** zod's copy drops a `__proto__` key the JSON had; the decoder reads named fields only, so that difference is moot. */
const comparable = (v: unknown): unknown => JSON.parse(JSON.stringify(v), (k, x: unknown) => (k === '__proto__' ? undefined : x)) as unknown;

describe('the OpenAI stream decoder fast path', () => {
  it('takes the common token chunk as it is', () => {
    const chunk = { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', system_fingerprint: 'fp', choices: [{ index: 0, delta: { content: 'hi' }, logprobs: null, finish_reason: null }], usage: null };
    expect(plainTokenChunk(chunk)).toBe(chunk);
  });

  it('leaves usage, tool calls, errors and wrong types to the schema', () => {
    for (const chunk of [
      { id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } },
      { id: 'c', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{' } }] } }] },
      { error: { message: 'boom' } },
      { id: null, choices: [] },
      { id: 'c', choices: [{ index: '0', delta: { content: 'x' } }] },
      { id: 'c', choices: [{ index: 0, delta: { content: 5 } }] },
      { id: 'c', choices: {} },
      [],
    ]) {
      expect(plainTokenChunk(chunk)).toBeUndefined();
    }
  });

  it('accepts only what streamChunk accepts, and gives what it gives', () => {
    fc.assert(
      fc.property(fc.oneof(openaiChunk, mutations(openaiChunk)), (raw) => {
        const v = wire(raw);
        const fast = plainTokenChunk(v);
        if (fast === undefined) return;
        const slow = streamChunk.safeParse(v);
        expect(slow.success).toBe(true);
        expect(comparable(fast)).toEqual(comparable(slow.data));
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('the Anthropic stream decoder fast path', () => {
  it('takes a text delta', () => {
    expect(tokenDelta({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } })).toEqual({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi', partial_json: undefined } });
    expect(tokenDelta({ type: 'content_block_delta', index: '0', delta: { type: 'text_delta', text: 'hi' } })).toBeUndefined();
    expect(tokenDelta({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 5 } })).toBeUndefined();
  });

  it('accepts only what the schema accepts, with the fields the decoder reads equal', () => {
    const read = (e: unknown) => {
      const x = e as { type: unknown; index: unknown; delta: { type: unknown; text: unknown; partial_json: unknown } };
      return [x.type, x.index, x.delta.type, x.delta.text, x.delta.partial_json];
    };
    fc.assert(
      fc.property(fc.oneof(anthropicEvent, mutations(anthropicEvent)), (raw) => {
        const v = wire(raw);
        const fast = tokenDelta(v);
        if (fast === undefined) return;
        const slow = event.safeParse(v);
        expect(slow.success).toBe(true);
        expect(read(fast)).toEqual(read(slow.data));
      }),
      { numRuns: 3_000 },
    );
  });
});
