import type { KeelError } from '../../errors.js';
import type { ChatRequest, FinishReason, StreamEvent, Usage } from '../canonical.js';
import type { StreamEncoder } from '../types.js';
import { nowSeconds, sse } from '../shared.js';
import { renderError } from '../openai-chat/errors.js';
import { functionCallOut, messageItem, responseId, responseObject, statusOut, textPart } from './response.js';

type Json = Record<string, unknown>;

/** An output item being written: the open message, or a function call. */
interface OpenItem {
  outputIndex: number;
  id: string;
  kind: 'message' | 'function_call';
  text: string;
  callId: string;
  name: string;
  /** Its `output_item.done` item, once closed: arguments that come late still reach the final snapshot. */
  closed?: Json;
}

/**
 * Canonical events → the Responses API event sequence an SDK's `responses.stream()` accumulates:
 * response.created / in_progress, then per output item `output_item.added`, its content part and
 * deltas, its `.done` events and `output_item.done`, then response.completed (or .incomplete) with
 * the whole response. Every event has a `sequence_number`. Only choice 0 is encoded.
 */
export function createStreamEncoder(req: ChatRequest): StreamEncoder {
  let seq = 0;
  let started = false;
  let id = `keel_${Math.random().toString(36).slice(2, 14)}`;
  let model = req.model;
  let created = nowSeconds();
  let finish: FinishReason | undefined;
  let usage: Usage | undefined;
  let open: OpenItem | undefined;
  const done: Json[] = [];
  /** tool index → its item, kept after it closed for arguments that come late. */
  const tools = new Map<number, OpenItem>();

  const emit = (type: string, data: Json): string => sse({ type, sequence_number: seq++, ...data }, type);
  const snapshot = (status: string, incomplete: Json | null, u: Usage | undefined) => responseObject({ id, model, created, output: [...done], status, incomplete, usage: u });
  const start = (): string => {
    if (started) return '';
    started = true;
    const r = snapshot('in_progress', null, undefined);
    return emit('response.created', { response: r }) + emit('response.in_progress', { response: r });
  };
  const itemId = (prefix: string) => `${prefix}_${responseId(id).slice(5)}_${done.length}`;
  const close = (): string => {
    const it = open;
    if (it === undefined) return '';
    open = undefined;
    const at = { item_id: it.id, output_index: it.outputIndex };
    if (it.kind === 'message') {
      const item = messageItem(it.id, it.text, 'completed');
      done.push(item);
      return (
        emit('response.output_text.done', { ...at, content_index: 0, text: it.text, logprobs: [] }) +
        emit('response.content_part.done', { ...at, content_index: 0, part: textPart(it.text) }) +
        emit('response.output_item.done', { output_index: it.outputIndex, item })
      );
    }
    const item = functionCallOut(it.id, it.callId, it.name, it.text, 'completed');
    it.closed = item;
    done.push(item);
    return emit('response.function_call_arguments.done', { ...at, name: it.name, arguments: it.text }) + emit('response.output_item.done', { output_index: it.outputIndex, item });
  };
  const openMessage = (): string => {
    const head = close();
    open = { outputIndex: done.length, id: itemId('msg'), kind: 'message', text: '', callId: '', name: '' };
    const at = { item_id: open.id, output_index: open.outputIndex };
    return head + emit('response.output_item.added', { output_index: open.outputIndex, item: messageItem(open.id, undefined, 'in_progress') }) + emit('response.content_part.added', { ...at, content_index: 0, part: textPart('') });
  };
  const end = (): string => {
    const tail = start() + close();
    const { status, incomplete_details } = statusOut(finish ?? 'stop');
    return tail + emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response: snapshot(status, incomplete_details, usage ?? { inputTokens: 0, outputTokens: 0 }) });
  };

  return {
    encode(ev: StreamEvent): string {
      if ('choice' in ev && ev.choice !== 0) return '';
      switch (ev.type) {
        case 'start':
          if (!started) ({ id, model, created } = ev);
          return start();
        case 'text': {
          if (ev.text === '') return start();
          const head = start() + (open?.kind === 'message' ? '' : openMessage());
          const it = open;
          if (it === undefined) return head;
          it.text += ev.text;
          return head + emit('response.output_text.delta', { item_id: it.id, output_index: it.outputIndex, content_index: 0, delta: ev.text, logprobs: [] });
        }
        case 'tool_call': {
          const head = start() + close();
          const it: OpenItem = { outputIndex: done.length, id: itemId('fc'), kind: 'function_call', text: '', callId: ev.id, name: ev.name };
          open = it;
          tools.set(ev.index, it);
          return head + emit('response.output_item.added', { output_index: it.outputIndex, item: functionCallOut(it.id, it.callId, it.name, '', 'in_progress') });
        }
        case 'tool_args': {
          const it = tools.get(ev.index);
          if (it === undefined || ev.delta === '') return start();
          it.text += ev.delta;
          if (it.closed !== undefined) it.closed.arguments = it.text;
          return start() + emit('response.function_call_arguments.delta', { item_id: it.id, output_index: it.outputIndex, delta: ev.delta });
        }
        case 'finish':
          finish = ev.reason;
          return start();
        case 'usage':
          usage = ev.usage;
          return '';
        case 'error':
          return emit('error', { code: ev.errorType, message: ev.message, param: null, error: { message: ev.message, type: ev.errorType, param: null, code: ev.errorType } });
        case 'end':
          return end();
      }
    },
    // The Responses API's in-band `error` event; its `error` object is what makes the openai SDK raise an APIError.
    error: (err: KeelError) => {
      const e = renderError(err).error as Json;
      return emit('error', { code: e.code, message: err.message, param: e.param, error: e });
    },
    // A Responses stream's end is response.completed: what the encoder saw (fed in pass-through) makes its snapshot.
    terminator: () => end(),
  };
}
