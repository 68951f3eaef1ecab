import type { ChatRequest, ChatResponse, Choice, StreamEvent } from '../formats/canonical.js';
import type { WireFormat } from '../formats/types.js';

/**
 * A cached answer told again as a stream: the canonical events a provider would
 * have sent for it, so a hit on a streaming request goes through the same
 * encoders as a live answer and reaches the caller in its own format.
 * Pure: no I/O, no clock (`created` is the cached one).
 */

export interface ReplayOptions {
  /**
   * About how many characters each text or tool-arguments delta carries. SDKs and
   * UIs that render deltas as they come should see several, as from a live model.
   */
  pieceChars?: number;
}

const DEFAULT_PIECE_CHARS = 16;

/**
 * `text` in pieces of `size` code points: a piece never ends inside a surrogate
 * pair, which JSON-encoded alone would reach the caller as two replacement characters.
 */
export function pieces(text: string, size: number): string[] {
  const step = Math.max(1, Math.floor(size));
  const out: string[] = [];
  let piece = '';
  let n = 0;
  for (const cp of text) {
    piece += cp;
    if (++n === step) {
      out.push(piece);
      piece = '';
      n = 0;
    }
  }
  if (piece !== '') out.push(piece);
  return out;
}

function choiceEvents(c: Choice, size: number): StreamEvent[] {
  const out: StreamEvent[] = [];
  let tool = 0;
  for (const p of c.content) {
    if (p.type === 'text') {
      for (const text of pieces(p.text, size)) out.push({ type: 'text', choice: c.index, text });
    } else if (p.type === 'tool_call') {
      const index = tool++;
      out.push({ type: 'tool_call', choice: c.index, index, id: p.id, name: p.name });
      for (const delta of pieces(p.arguments, size)) out.push({ type: 'tool_args', choice: c.index, index, delta });
    }
    // An answer holds only text and tool calls; images and tool results belong to requests.
  }
  out.push(c.stopSequence === undefined ? { type: 'finish', choice: c.index, reason: c.finishReason } : { type: 'finish', choice: c.index, reason: c.finishReason, stopSequence: c.stopSequence });
  return out;
}

/**
 * The events for `res`: start, each choice in turn (its parts in order, then its
 * finish), usage, end. Choices go one after another rather than interleaved: the
 * formats allow either, and each choice's deltas stay contiguous for the reader.
 */
export function replayEvents(res: ChatResponse, opts: ReplayOptions = {}): StreamEvent[] {
  const size = opts.pieceChars ?? DEFAULT_PIECE_CHARS;
  // inputTokens as the decoders report it at start: canonical, cached input included.
  const out: StreamEvent[] = [{ type: 'start', id: res.id, model: res.model, created: res.created, inputTokens: res.usage.inputTokens }];
  for (const c of res.choices) out.push(...choiceEvents(c, size));
  out.push({ type: 'usage', usage: res.usage }, { type: 'end' });
  return out;
}

/**
 * The SSE text a caller of `format` receives for `res`, one string per event (empty
 * ones dropped), for the cache stage to write and flush at its own pace. The
 * encoder decides what the caller asked for: OpenAI's usage chunk only with
 * `stream_options.include_usage`, Anthropic's choice 0 only.
 */
export function entryToSse(format: WireFormat, req: ChatRequest, res: ChatResponse, opts: ReplayOptions = {}): string[] {
  const encoder = format.createStreamEncoder(req);
  return replayEvents(res, opts)
    .map((ev) => encoder.encode(ev))
    .filter((s) => s !== '');
}
