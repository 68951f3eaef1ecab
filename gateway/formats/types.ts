import type { KeelError } from '../errors.js';
import type { ChatRequest, ChatResponse, FormatId, SseEvent, StreamEvent } from './canonical.js';

/**
 * A wire format: one HTTP chat API dialect (OpenAI Chat Completions, Anthropic
 * Messages). Callers speak one (the ingress), providers speak one (the
 * adapter's `format`); the pipeline only ever talks to this interface, so
 * adding a dialect is one folder plus one registry line.
 *
 * Every function here is pure: no I/O, no clocks beyond `created` stamps.
 */
export interface WireFormat {
  id: FormatId;

  /**
   * Validate a caller's body and map it to the canonical request.
   * Throws KeelError('KEEL_INVALID_REQUEST', ..., { param }) naming the bad field.
   */
  parseRequest(body: unknown): ChatRequest;

  /**
   * The upstream body for a target speaking this format. When the request came in
   * this same format, start from `req.original.body` (pass-through of unmodelled
   * fields) and only set the model and streaming options; otherwise build from the
   * canonical fields. `forceStreamUsage` asks the upstream to report usage in the
   * stream even when the caller did not (Keel always needs usage).
   * Throws KeelError('KEEL_UNSUPPORTED') when the request cannot be expressed
   * (e.g. n > 1 to a format without `n`).
   */
  buildRequest(req: ChatRequest, upstreamModel: string, opts: { forceStreamUsage: boolean }): Record<string, unknown>;

  /**
   * May a non-streaming request to a target of this format be streamed upstream and assembled
   * by Keel (pipeline/assemble.ts)? False when the caller asked, in this same format, for
   * something only the provider's own JSON body carries (log probabilities, thinking blocks),
   * which the canonical answer Keel assembles from a stream would lose.
   */
  canAssemble(req: ChatRequest): boolean;

  /** Map an upstream non-streaming body to canonical. Throws KEEL_UPSTREAM_BAD_RESPONSE when it is not one. */
  parseResponse(body: unknown): ChatResponse;

  /** Render a canonical response as this format's body (for a caller of this format). */
  renderResponse(res: ChatResponse): Record<string, unknown>;

  /** A stateful decoder of this format's upstream SSE stream into canonical events. */
  createStreamDecoder(): StreamDecoder;

  /** A stateful encoder of canonical events into this format's SSE text for a caller. */
  createStreamEncoder(req: ChatRequest): StreamEncoder;

  /** The HTTP error body for a caller of this format. */
  renderError(err: KeelError): Record<string, unknown>;

  /** Read an upstream error body of this format: the provider's message and code/type, if present. */
  parseUpstreamError(body: unknown): { message?: string; code?: string; type?: string };
}

export interface StreamDecoder {
  /**
   * Decode one SSE event. Returns the canonical events it carries (possibly none,
   * e.g. pings). Throws KeelError('KEEL_UPSTREAM_BAD_RESPONSE') on a malformed
   * event; the relay skips and counts it.
   */
  decode(ev: SseEvent): StreamEvent[];
}

export interface StreamEncoder {
  /** SSE text (zero or more complete `event:`/`data:` blocks) for one canonical event. */
  encode(ev: StreamEvent): string;
  /** The in-band error event that ends a broken stream (DESIGN.md §6: never a clean end). */
  error(err: KeelError): string;
  /**
   * The bare end marker alone (OpenAI `data: [DONE]`, Anthropic `message_stop`), for a
   * same-format pass-through stream whose upstream sent a complete answer but omitted it.
   */
  terminator(): string;
}
