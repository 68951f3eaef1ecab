import type { KeelError } from '../../errors.js';
import type { ChatRequest, FinishReason, StreamEvent, Usage } from '../canonical.js';
import type { StreamEncoder } from '../types.js';
import { sse } from '../shared.js';
import { errorType, renderError } from './errors.js';
import { finishOut, messageId, usageOut } from './mapping.js';
import { extend } from '../../objects.js';

/**
 * Canonical events → Messages API stream for an Anthropic caller: message_start,
 * content blocks opened and closed around text and tool calls, then
 * message_delta (stop reason, usage) and message_stop. Only choice 0 is encoded.
 */
export function createStreamEncoder(req: ChatRequest): StreamEncoder {
  let started = false;
  let open: number | undefined;
  let nextBlock = 0;
  let finish: { reason: FinishReason; stopSequence?: string } | undefined;
  let usage: Usage | undefined;
  const blockOfTool = new Map<number, number>();

  const start = (id: string, model: string, inputTokens: number): string => {
    started = true;
    const message = { id: messageId(id), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 0 } };
    return sse({ type: 'message_start', message }, 'message_start');
  };
  const ensureStarted = () => (started ? '' : start(`keel_${Math.random().toString(36).slice(2, 14)}`, req.model, 0));
  const close = (): string => {
    if (open === undefined) return '';
    const out = sse({ type: 'content_block_stop', index: open }, 'content_block_stop');
    open = undefined;
    return out;
  };
  const openBlock = (contentBlock: Record<string, unknown>): string => {
    const out = close() + sse({ type: 'content_block_start', index: nextBlock, content_block: contentBlock }, 'content_block_start');
    open = nextBlock++;
    return out;
  };
  const delta = (index: number, d: Record<string, unknown>) => sse({ type: 'content_block_delta', index, delta: d }, 'content_block_delta');

  return {
    encode(ev: StreamEvent): string {
      if ('choice' in ev && ev.choice !== 0) return '';
      switch (ev.type) {
        case 'start':
          return started ? '' : start(ev.id, ev.model, ev.inputTokens ?? 0);
        case 'text': {
          if (ev.text === '') return ensureStarted();
          const head = ensureStarted() + (open !== undefined && !blockOfToolValues(blockOfTool).has(open) ? '' : openBlock({ type: 'text', text: '' }));
          return head + delta(open ?? 0, { type: 'text_delta', text: ev.text });
        }
        case 'tool_call': {
          const head = ensureStarted() + openBlock({ type: 'tool_use', id: ev.id, name: ev.name, input: {} });
          blockOfTool.set(ev.index, open ?? 0);
          return head;
        }
        case 'tool_args':
          return ensureStarted() + delta(blockOfTool.get(ev.index) ?? open ?? 0, { type: 'input_json_delta', partial_json: ev.delta });
        case 'finish':
          finish = ev.stopSequence === undefined ? { reason: ev.reason } : { reason: ev.reason, stopSequence: ev.stopSequence };
          return ensureStarted() + close();
        case 'usage':
          usage = ev.usage;
          return '';
        case 'error':
          return sse({ type: 'error', error: { type: ev.errorType, message: ev.message } }, 'error');
        case 'end': {
          const d = { stop_reason: finishOut(finish?.reason ?? 'stop'), stop_sequence: finish?.stopSequence ?? null };
          const u = usageOut(usage ?? { inputTokens: 0, outputTokens: 0 });
          return ensureStarted() + close() + sse({ type: 'message_delta', delta: d, usage: u }, 'message_delta') + sse({ type: 'message_stop' }, 'message_stop');
        }
      }
    },
    error: (err: KeelError) => sse(extend(renderError(err), { error: { type: errorType(err.kind), message: err.message } }), 'error'),
    terminator: () => sse({ type: 'message_stop' }, 'message_stop'),
  };
}

function blockOfToolValues(m: Map<number, number>): Set<number> {
  return new Set(m.values());
}
