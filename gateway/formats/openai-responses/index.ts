import { parseUpstreamError, renderError } from '../openai-chat/errors.js';
import type { WireFormat } from '../types.js';
import { buildRequest } from './build.js';
import { createStreamDecoder } from './decoder.js';
import { createStreamEncoder } from './encoder.js';
import { parseRequest } from './request.js';
import { parseResponse, renderResponse } from './response.js';

/**
 * The OpenAI Responses API (POST /v1/responses), used statelessly: Keel stores nothing, so a
 * caller sends the whole conversation as `input`; `previous_response_id` reaches only a
 * Responses-format target. Errors have the OpenAI shape, the same as Chat Completions'.
 */
export const openaiResponses = {
  id: 'openai-responses',
  parseRequest,
  buildRequest,
  parseResponse,
  renderResponse,
  createStreamDecoder,
  createStreamEncoder,
  renderError,
  parseUpstreamError,
} as const satisfies WireFormat;
