import type { ChatResponse, Choice, Part, StreamEvent, Usage } from '../formats/canonical.js';
import { extend } from '../objects.js';

/**
 * Folds canonical stream events back into the answer they tell: what the cache
 * stores after a streamed miss, and what a replay must give back. Adjacent text
 * deltas of a choice join into one text part; a tool call opens a new part, so
 * the order of text and tool calls survives.
 */
export class ResponseAccumulator {
  #id = '';
  #model = '';
  #created = 0;
  #inputTokens = 0;
  #usage: Usage | undefined;
  #error: string | undefined;
  #ended = false;
  readonly #choices = new Map<number, Choice>();
  /** `${choice}:${index}` → its tool_call part, for the argument deltas that follow. */
  readonly #tools = new Map<string, Extract<Part, { type: 'tool_call' }>>();
  readonly #finished = new Set<number>();

  push(ev: StreamEvent): void {
    switch (ev.type) {
      case 'start':
        ({ id: this.#id, model: this.#model, created: this.#created } = ev);
        this.#inputTokens = ev.inputTokens ?? 0;
        return;
      case 'text':
        if (ev.text !== '') this.#text(ev.choice, ev.text);
        return;
      case 'tool_call':
        this.#tool(ev.choice, ev.index, ev.id, ev.name);
        return;
      case 'tool_args':
        (this.#tools.get(`${ev.choice}:${ev.index}`) ?? this.#tool(ev.choice, ev.index, '', '')).arguments += ev.delta;
        return;
      case 'finish':
        this.#finish(ev.choice, ev);
        return;
      case 'usage':
        this.#usage = ev.usage;
        return;
      case 'error':
        this.#error = ev.message;
        return;
      case 'end':
        this.#ended = true;
        return;
    }
  }

  pushAll(events: readonly StreamEvent[]): void {
    for (const ev of events) this.push(ev);
  }

  /**
   * A whole answer, fit to cache: the stream ended cleanly and every choice has its
   * finish reason. A truncated or failed answer must never be served again.
   */
  get complete(): boolean {
    return this.#ended && this.#error === undefined && [...this.#choices.values()].every((c) => this.#finished.has(c.index));
  }

  /** The in-band error the stream carried, if any. */
  get error(): string | undefined {
    return this.#error;
  }

  /** The answer so far; a choice that never finished reads as finishReason 'error'. */
  response(): ChatResponse {
    const choices = [...this.#choices.values()].sort((a, b) => a.index - b.index).map((c) => extend(c, { content: c.content.map((p) => ({ ...p })) }));
    return { id: this.#id, model: this.#model, created: this.#created, choices, usage: this.#usage ?? { inputTokens: this.#inputTokens, outputTokens: 0 } };
  }

  #choice(index: number): Choice {
    let c = this.#choices.get(index);
    if (c === undefined) {
      c = { index, content: [], finishReason: 'error' };
      this.#choices.set(index, c);
    }
    return c;
  }

  #text(choice: number, text: string): void {
    const content = this.#choice(choice).content;
    const last = content[content.length - 1];
    if (last?.type === 'text') last.text += text;
    else content.push({ type: 'text', text });
  }

  #tool(choice: number, index: number, id: string, name: string): Extract<Part, { type: 'tool_call' }> {
    // Some OpenAI-compatible servers repeat the id or name on every delta of one call.
    const known = this.#tools.get(`${choice}:${index}`);
    if (known !== undefined) {
      known.id ||= id;
      known.name ||= name;
      return known;
    }
    const part = { type: 'tool_call' as const, id, name, arguments: '' };
    this.#choice(choice).content.push(part);
    this.#tools.set(`${choice}:${index}`, part);
    return part;
  }

  #finish(choice: number, ev: Extract<StreamEvent, { type: 'finish' }>): void {
    const c = this.#choice(choice);
    c.finishReason = ev.reason;
    if (ev.stopSequence === undefined) delete c.stopSequence;
    else c.stopSequence = ev.stopSequence;
    this.#finished.add(choice);
  }
}

/** The answer a finished list of events tells. */
export function foldEvents(events: readonly StreamEvent[]): ChatResponse {
  const acc = new ResponseAccumulator();
  acc.pushAll(events);
  return acc.response();
}
