/**
 * Wire formats: the chat API dialects Keel speaks with callers and providers,
 * each mapping to and from the canonical model. One registry; the pipeline
 * looks formats up by id and never names one.
 */
import { anthropicMessages } from './anthropic-messages/index.js';
import type { FormatId } from './canonical.js';
import { openaiChat } from './openai-chat/index.js';
import { openaiResponses } from './openai-responses/index.js';
import type { WireFormat } from './types.js';

export const formats: Readonly<Record<FormatId, WireFormat>> = Object.freeze({
  'openai-chat': openaiChat,
  'anthropic-messages': anthropicMessages,
  'openai-responses': openaiResponses,
});

export type * from './canonical.js';
export type { StreamDecoder, StreamEncoder, WireFormat } from './types.js';
