import type { KeelError } from '../../errors.js';
import type { ChatRequest, FinishReason, StreamEvent, Usage } from '../canonical.js';
import type { StreamEncoder } from '../types.js';
import { nowSeconds, sse } from '../shared.js';
import { renderError } from '../openai-chat/errors.js';
import { functionCallOut, messageItem, responseId, responseObject, statusOut, textPart } from './response.js';

type Json = Record<string, unknown>;

/** An output item being written: the open message, or a function call. */
interface Item {
  outputIndex: number;
  id: string;
  kind: 'message' | 'function_call';
  /** The message's text, or the call's arguments so far. */
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
class ResponsesEncoder implements StreamEncoder {
  #seq = 0;
  #started = false;
  #id = `keel_${Math.random().toString(36).slice(2, 14)}`;
  #model: string;
  #created = nowSeconds();
  #finish: FinishReason | undefined;
  #usage: Usage | undefined;
  #open: Item | undefined;
  /** The output items closed so far, as the final response lists them. */
  readonly #done: Json[] = [];
  /** tool index → its item, kept after it closed for arguments that come late. */
  readonly #tools = new Map<number, Item>();

  constructor(req: ChatRequest) {
    this.#model = req.model;
  }

  encode(ev: StreamEvent): string {
    if ('choice' in ev && ev.choice !== 0) return '';
    switch (ev.type) {
      case 'start':
        if (!this.#started) ({ id: this.#id, model: this.#model, created: this.#created } = ev);
        return this.#start();
      case 'text':
        return this.#start() + this.#text(ev.text);
      case 'tool_call':
        return this.#start() + this.#toolCall(ev.index, ev.id, ev.name);
      case 'tool_args':
        return this.#start() + this.#toolArgs(ev.index, ev.delta);
      case 'finish':
        this.#finish = ev.reason;
        return this.#start();
      case 'usage':
        this.#usage = ev.usage;
        return '';
      case 'error':
        return this.#emit('error', { code: ev.errorType, message: ev.message, param: null, error: { message: ev.message, type: ev.errorType, param: null, code: ev.errorType } });
      case 'end':
        return this.#end();
    }
  }

  /** The Responses API's in-band `error` event; its `error` object is what makes the openai SDK raise an APIError. */
  error(err: KeelError): string {
    const e = renderError(err).error as Json;
    return this.#emit('error', { code: e.code, message: err.message, param: e.param, error: e });
  }

  /** A Responses stream's end is response.completed: what the encoder saw (it is fed in pass-through) makes its snapshot. */
  terminator(): string {
    return this.#end();
  }

  #emit(type: string, data: Json): string {
    return sse({ type, sequence_number: this.#seq++, ...data }, type);
  }

  #snapshot(status: string, incomplete: Json | null, usage: Usage | undefined): Json {
    return responseObject({ id: this.#id, model: this.#model, created: this.#created, output: [...this.#done], status, incomplete, usage });
  }

  #start(): string {
    if (this.#started) return '';
    this.#started = true;
    const r = this.#snapshot('in_progress', null, undefined);
    return this.#emit('response.created', { response: r }) + this.#emit('response.in_progress', { response: r });
  }

  #item(kind: Item['kind'], callId = '', name = ''): Item {
    const prefix = kind === 'message' ? 'msg' : 'fc';
    return { outputIndex: this.#done.length, id: `${prefix}_${responseId(this.#id).slice(5)}_${this.#done.length}`, kind, text: '', callId, name };
  }

  #text(text: string): string {
    if (text === '') return '';
    let head = '';
    let it = this.#open;
    if (it?.kind !== 'message') {
      head = this.#close();
      it = this.#item('message');
      this.#open = it;
      head += this.#emit('response.output_item.added', { output_index: it.outputIndex, item: messageItem(it.id, undefined, 'in_progress') });
      head += this.#emit('response.content_part.added', { item_id: it.id, output_index: it.outputIndex, content_index: 0, part: textPart('') });
    }
    it.text += text;
    return head + this.#emit('response.output_text.delta', { item_id: it.id, output_index: it.outputIndex, content_index: 0, delta: text, logprobs: [] });
  }

  #toolCall(index: number, callId: string, name: string): string {
    const head = this.#close();
    const it = this.#item('function_call', callId, name);
    this.#open = it;
    this.#tools.set(index, it);
    return head + this.#emit('response.output_item.added', { output_index: it.outputIndex, item: functionCallOut(it.id, callId, name, '', 'in_progress') });
  }

  #toolArgs(index: number, delta: string): string {
    const it = this.#tools.get(index);
    if (it === undefined || delta === '') return '';
    it.text += delta;
    if (it.closed !== undefined) it.closed.arguments = it.text;
    return this.#emit('response.function_call_arguments.delta', { item_id: it.id, output_index: it.outputIndex, delta });
  }

  /** The open item's closing events; it joins the items the final response lists. */
  #close(): string {
    const it = this.#open;
    if (it === undefined) return '';
    this.#open = undefined;
    if (it.kind === 'message') {
      const item = messageItem(it.id, it.text, 'completed');
      this.#done.push(item);
      return (
        this.#emit('response.output_text.done', { item_id: it.id, output_index: it.outputIndex, content_index: 0, text: it.text, logprobs: [] }) +
        this.#emit('response.content_part.done', { item_id: it.id, output_index: it.outputIndex, content_index: 0, part: textPart(it.text) }) +
        this.#emit('response.output_item.done', { output_index: it.outputIndex, item })
      );
    }
    const item = functionCallOut(it.id, it.callId, it.name, it.text, 'completed');
    it.closed = item;
    this.#done.push(item);
    return this.#emit('response.function_call_arguments.done', { item_id: it.id, output_index: it.outputIndex, name: it.name, arguments: it.text }) + this.#emit('response.output_item.done', { output_index: it.outputIndex, item });
  }

  #end(): string {
    const head = this.#start() + this.#close();
    const { status, incomplete_details } = statusOut(this.#finish ?? 'stop');
    const response = this.#snapshot(status, incomplete_details, this.#usage ?? { inputTokens: 0, outputTokens: 0 });
    return head + this.#emit(status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
  }
}

export function createStreamEncoder(req: ChatRequest): StreamEncoder {
  return new ResponsesEncoder(req);
}
