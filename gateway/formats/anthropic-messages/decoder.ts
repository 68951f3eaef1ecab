import { z } from 'zod';
import type { SseEvent, StreamEvent } from '../canonical.js';
import type { StreamDecoder } from '../types.js';
import { nowSeconds, typedEvent } from '../shared.js';
import { finishIn, usageIn } from './mapping.js';
import { usage, type AnthropicUsage } from './schema.js';
import { extend } from '../../objects.js';

/** https://docs.anthropic.com/en/docs/build-with-claude/streaming — event shapes Keel reads. */
export const event = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message_start'), message: z.looseObject({ id: z.string(), model: z.string(), usage: usage.optional() }) }),
  z.looseObject({ type: z.literal('content_block_start'), index: z.number(), content_block: z.looseObject({ type: z.string(), id: z.string().optional(), name: z.string().optional(), text: z.string().optional() }) }),
  z.looseObject({ type: z.literal('content_block_delta'), index: z.number(), delta: z.looseObject({ type: z.string(), text: z.string().optional(), partial_json: z.string().optional() }) }),
  z.looseObject({ type: z.literal('content_block_stop'), index: z.number() }),
  z.looseObject({ type: z.literal('message_delta'), delta: z.looseObject({ stop_reason: z.string().nullish(), stop_sequence: z.string().nullish() }), usage: usage.optional() }),
  z.looseObject({ type: z.literal('message_stop') }),
  z.looseObject({ type: z.literal('ping') }),
  z.looseObject({ type: z.literal('error'), error: z.looseObject({ type: z.string().optional(), message: z.string().optional() }) }),
]);

type AnthropicEvent = z.infer<typeof event>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';

/**
 * A content_block_delta (every token of a stream) as `event` would read it, checked by hand:
 * zod's walk of the union was the larger half of decoding one (as for OpenAI chunks). Anything
 * else, or a field of the wrong type, is undefined and goes through the schema, which decides
 * and words the error. The copy carries the fields the decoder reads.
 */
export function tokenDelta(v: unknown): AnthropicEvent | undefined {
  if (!isObject(v) || v.type !== 'content_block_delta' || typeof v.index !== 'number') return undefined;
  const d = v.delta;
  if (!isObject(d) || typeof d.type !== 'string' || !optString(d.text) || !optString(d.partial_json)) return undefined;
  return { type: 'content_block_delta', index: v.index, delta: { type: d.type, text: d.text, partial_json: d.partial_json } };
}

const KNOWN: ReadonlySet<string> = new Set<string>(event.options.map((o) => o.shape.type.value));

/** Tool calls are numbered among tool_use blocks only, as OpenAI numbers them. */
export function createStreamDecoder(): StreamDecoder {
  let startUsage: AnthropicUsage | undefined;
  let tools = 0;
  const toolIndexOfBlock = new Map<number, number>();
  return {
    decode(ev: SseEvent): StreamEvent[] {
      // Anthropic adds event types over time; ones Keel does not know carry nothing it needs.
      const e = typedEvent(ev.data, KNOWN, event, tokenDelta);
      if (e === undefined) return [];
      switch (e.type) {
        case 'message_start':
          startUsage = e.message.usage;
          return [{ type: 'start', id: e.message.id, model: e.message.model, created: nowSeconds(), inputTokens: usageIn(startUsage).inputTokens }];
        case 'content_block_start':
          if (e.content_block.type === 'tool_use') {
            toolIndexOfBlock.set(e.index, tools);
            return [{ type: 'tool_call', choice: 0, index: tools++, id: e.content_block.id ?? '', name: e.content_block.name ?? '' }];
          }
          return e.content_block.type === 'text' && e.content_block.text ? [{ type: 'text', choice: 0, text: e.content_block.text }] : [];
        case 'content_block_delta':
          if (e.delta.type === 'text_delta' && e.delta.text) return [{ type: 'text', choice: 0, text: e.delta.text }];
          if (e.delta.type === 'input_json_delta' && e.delta.partial_json) {
            return [{ type: 'tool_args', choice: 0, index: toolIndexOfBlock.get(e.index) ?? 0, delta: e.delta.partial_json }];
          }
          return [];
        case 'message_delta': {
          // message_delta's usage is cumulative; input counts may be repeated there or only in message_start.
          const merged = extend(startUsage ?? {}, Object.fromEntries(Object.entries(e.usage ?? {}).filter(([, v]) => v !== null && v !== undefined)));
          const finish: StreamEvent = e.delta.stop_sequence
            ? { type: 'finish', choice: 0, reason: finishIn(e.delta.stop_reason), stopSequence: e.delta.stop_sequence }
            : { type: 'finish', choice: 0, reason: finishIn(e.delta.stop_reason) };
          return e.delta.stop_reason ? [finish, { type: 'usage', usage: usageIn(merged) }] : [{ type: 'usage', usage: usageIn(merged) }];
        }
        case 'message_stop':
          return [{ type: 'end' }];
        case 'error':
          return [{ type: 'error', message: e.error.message ?? 'upstream error', errorType: e.error.type ?? 'api_error' }];
        default:
          return [];
      }
    },
  };
}
