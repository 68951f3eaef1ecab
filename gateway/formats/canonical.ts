/**
 * Keel's canonical chat model: the hub every wire format translates to and from.
 *
 * With a hub, N wire formats need 2N mappings instead of N². When the caller's
 * format equals the target's, the pipeline forwards the caller's original body
 * (see `ChatRequest.original`) so fields Keel does not model survive untouched;
 * the canonical form is then used only to observe the request.
 *
 * Conventions:
 * - `Usage.inputTokens` includes cached input (OTel GenAI: gen_ai.usage.input_tokens
 *   SHOULD include cached tokens), so cacheRead/cacheWrite are subsets of it.
 * - Tool-call arguments are JSON text, exactly as the model produced it.
 */

export type FormatId = 'openai-chat' | 'anthropic-messages' | 'openai-responses';

export type ImageSource =
  | { kind: 'url'; url: string }
  | { kind: 'base64'; mediaType: string; data: string };

export type Part =
  | { type: 'text'; text: string }
  | { type: 'image'; source: ImageSource }
  | { type: 'tool_call'; id: string; name: string; arguments: string }
  | { type: 'tool_result'; toolCallId: string; content: string; isError?: boolean };

/** A tool result is carried by a `tool` message with exactly one `tool_result` part. */
export interface Message {
  role: 'user' | 'assistant' | 'tool';
  content: Part[];
}

export interface ToolDef {
  name: string;
  description?: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'stop_sequence' | 'error';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
}

export interface ChatRequest {
  /** The model name the caller asked for: Keel's route name. */
  model: string;
  system: string | undefined;
  messages: Message[];
  stream: boolean;
  /** The caller wants usage reported in the stream (OpenAI `stream_options.include_usage`). */
  streamUsage: boolean;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  n?: number;
  seed?: number;
  tools?: ToolDef[];
  toolChoice?: ToolChoice;
  parallelToolCalls?: boolean;
  /** OpenAI `response_format`, carried as given. */
  responseFormat?: Record<string, unknown>;
  user?: string;
  /**
   * Text the answer must continue from, sent as a trailing assistant message (an
   * assistant prefill). Set only by Keel's stream continuation, never by a caller.
   */
  prefill?: string;
  /** The caller's body as received, for same-format pass-through. */
  original: { format: FormatId; body: Record<string, unknown> };
  /**
   * A field of the original body only a target of the caller's own format can honour (a
   * Responses `previous_response_id`, a hosted tool): another format's builder refuses the
   * request (KEEL_UNSUPPORTED naming it) rather than drop what changes the answer.
   */
  sameFormatOnly?: { param: string; reason: string };
}

export interface Choice {
  index: number;
  /** Text and tool_call parts, in the order the model produced them. */
  content: Part[];
  finishReason: FinishReason;
  stopSequence?: string;
}

export interface ChatResponse {
  id: string;
  /** The model that actually answered (the upstream model). */
  model: string;
  created: number;
  choices: Choice[];
  usage: Usage;
}

/**
 * Canonical stream events. `choice` is the OpenAI choice index (0 for formats
 * without `n`); `index` on tool events is the tool call's position within the choice.
 */
export type StreamEvent =
  | { type: 'start'; id: string; model: string; created: number; inputTokens?: number }
  | { type: 'text'; choice: number; text: string }
  | { type: 'tool_call'; choice: number; index: number; id: string; name: string }
  | { type: 'tool_args'; choice: number; index: number; delta: string }
  | { type: 'finish'; choice: number; reason: FinishReason; stopSequence?: string }
  | { type: 'usage'; usage: Usage }
  /** An error the upstream reported inside the stream. */
  | { type: 'error'; message: string; errorType: string }
  /** The upstream's explicit end marker (`[DONE]`, `message_stop`). */
  | { type: 'end' };

/** One parsed Server-Sent Event. */
export interface SseEvent {
  event?: string;
  data: string;
}
