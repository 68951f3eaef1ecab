import { assemblesUnless } from '../shared.js';
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
  // Log probabilities, audio and predicted-output counts live only in the provider's JSON body.
  canAssemble: assemblesUnless('openai-chat', ['logprobs', 'top_logprobs', 'audio', 'modalities', 'prediction']),
  parseResponse,
  renderResponse,
  createStreamDecoder,
  createStreamEncoder,
  renderError,
  parseUpstreamError,
} as const satisfies WireFormat;
