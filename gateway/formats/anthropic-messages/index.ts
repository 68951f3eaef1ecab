import { assemblesUnless } from '../shared.js';
import type { WireFormat } from '../types.js';
import { buildRequest } from './build.js';
import { createStreamDecoder } from './decoder.js';
import { createStreamEncoder } from './encoder.js';
import { parseUpstreamError, renderError } from './errors.js';
import { parseRequest } from './request.js';
import { parseResponse, renderResponse } from './response.js';

/** Anthropic Messages, spoken by Anthropic (and Bedrock/Vertex proxies of it). */
export const anthropicMessages = {
  id: 'anthropic-messages',
  parseRequest,
  buildRequest,
  // Thinking blocks (and their signatures) are not in the canonical answer.
  canAssemble: assemblesUnless('anthropic-messages', ['thinking']),
  parseResponse,
  renderResponse,
  createStreamDecoder,
  createStreamEncoder,
  renderError,
  parseUpstreamError,
} as const satisfies WireFormat;
