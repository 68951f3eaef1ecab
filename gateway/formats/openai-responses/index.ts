import { parseUpstreamError, renderError } from '../openai-chat/errors.js';
import type { ChatRequest } from '../canonical.js';
import { assemblesUnless } from '../shared.js';
import type { WireFormat } from '../types.js';
import { buildRequest } from './build.js';
import { createStreamDecoder } from './decoder.js';
import { createStreamEncoder } from './encoder.js';
import { parseRequest } from './request.js';
import { parseResponse, renderResponse } from './response.js';

/** Stored state, reasoning items, `include`d extras: only in the provider's own JSON body. */
const stateless = assemblesUnless('openai-responses', ['previous_response_id', 'conversation', 'background', 'include', 'reasoning']);

/**
 * A same-format request may be assembled from a stream unless it asks for output the canonical
 * answer cannot carry: the above, or hosted tools (web search, file search…) whose output items
 * only the provider's JSON body has.
 */
function canAssemble(req: ChatRequest): boolean {
  if (!stateless(req)) return false;
  const tools = req.original.format === 'openai-responses' ? req.original.body.tools : undefined;
  return !Array.isArray(tools) || tools.every((t) => typeof t === 'object' && t !== null && (t as { type?: unknown }).type === 'function');
}

/**
 * The OpenAI Responses API (POST /v1/responses), used statelessly: Keel stores nothing, so a
 * caller sends the whole conversation as `input`; `previous_response_id` reaches only a
 * Responses-format target. Errors have the OpenAI shape, the same as Chat Completions'.
 */
export const openaiResponses = {
  id: 'openai-responses',
  parseRequest,
  buildRequest,
  canAssemble,
  parseResponse,
  renderResponse,
  createStreamDecoder,
  createStreamEncoder,
  renderError,
  parseUpstreamError,
} as const satisfies WireFormat;
