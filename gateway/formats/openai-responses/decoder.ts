import type { SseEvent, StreamEvent } from '../canonical.js';
import type { StreamDecoder } from '../types.js';
import { typedEvent } from '../shared.js';
import { finishIn, usageIn } from './response.js';
import { functionCallItem, streamEvent, type ResponseObject } from './schema.js';

const KNOWN: ReadonlySet<string> = new Set<string>(streamEvent.options.map((o) => o.shape.type.value));

/**
 * Responses API stream events → canonical events
 * (https://platform.openai.com/docs/api-reference/responses-streaming). Tool calls are numbered
 * among function_call items, as OpenAI Chat numbers them; `response.completed` (or `.incomplete`)
 * is the stream's explicit end marker and carries finish and usage.
 */
export function createStreamDecoder(): StreamDecoder {
  /** output_index → tool index, and how much of its arguments arrived as deltas. */
  const tools = new Map<number, { index: number; streamed: number }>();
  const call = (outputIndex: number, id: string, name: string): StreamEvent => {
    const index = tools.size;
    tools.set(outputIndex, { index, streamed: 0 });
    return { type: 'tool_call', choice: 0, index, id, name };
  };
  const finish = (r: ResponseObject): StreamEvent[] => [
    { type: 'finish', choice: 0, reason: finishIn(r, tools.size > 0 || r.output.some((it) => it.type === 'function_call')) },
    { type: 'usage', usage: usageIn(r.usage) },
    { type: 'end' },
  ];
  return {
    decode(ev: SseEvent): StreamEvent[] {
      // in_progress, content parts, reasoning, annotations, hosted tools: nothing Keel needs.
      const e = typedEvent(ev.data, KNOWN, streamEvent);
      if (e === undefined) return [];
      switch (e.type) {
        case 'response.created':
          return [{ type: 'start', id: e.response.id, model: e.response.model, created: e.response.created_at ?? Math.floor(Date.now() / 1000) }];
        case 'response.output_item.added': {
          const fc = functionCallItem.safeParse(e.item);
          if (!fc.success || tools.has(e.output_index)) return [];
          const out = [call(e.output_index, fc.data.call_id, fc.data.name)];
          return fc.data.arguments === '' ? out : [...out, ...args(e.output_index, fc.data.arguments)];
        }
        case 'response.output_item.done': {
          // A call whose arguments never came as deltas (or that was never announced) is whole here.
          const fc = functionCallItem.safeParse(e.item);
          if (!fc.success) return [];
          const known = tools.get(e.output_index);
          if (known === undefined) return [call(e.output_index, fc.data.call_id, fc.data.name), ...args(e.output_index, fc.data.arguments)];
          return known.streamed === 0 && fc.data.arguments !== '' ? args(e.output_index, fc.data.arguments) : [];
        }
        case 'response.output_text.delta':
        case 'response.refusal.delta':
          return e.delta === '' ? [] : [{ type: 'text', choice: 0, text: e.delta }];
        case 'response.function_call_arguments.delta':
          return args(e.output_index, e.delta);
        case 'response.completed':
        case 'response.incomplete':
          return finish(e.response);
        case 'response.failed':
          return [{ type: 'error', message: e.response.error?.message ?? 'the response failed', errorType: e.response.error?.code ?? 'api_error' }];
        case 'error':
          return [{ type: 'error', message: e.message ?? 'upstream error', errorType: e.code ?? 'api_error' }];
      }
    },
  };

  function args(outputIndex: number, delta: string): StreamEvent[] {
    const t = tools.get(outputIndex);
    if (t === undefined || delta === '') return [];
    t.streamed += delta.length;
    return [{ type: 'tool_args', choice: 0, index: t.index, delta }];
  }
}
