import type { WireFormat } from '../types.js';
import { buildRequest } from './build.js';
import { parseUpstreamError, renderError } from './errors.js';
import { parseRequest } from './request.js';
import { parseResponse, renderResponse } from './response.js';
import { createStreamDecoder, createStreamEncoder } from './stream.js';

/** OpenAI Chat Completions, spoken by OpenAI and every OpenAI-compatible server. */
export const openaiChat = {
  id: 'openai-chat',
  parseRequest,
  buildRequest,
  parseResponse,
  renderResponse,
  createStreamDecoder,
  createStreamEncoder,
  renderError,
  parseUpstreamError,
} as const satisfies WireFormat;
