import type { ProviderAdapter } from '../types.js';

/** OpenAI's Responses API: https://platform.openai.com/docs/api-reference/responses */
export const openaiResponses = {
  type: 'openai-responses',
  format: 'openai-responses',
  defaultBaseUrl: 'https://api.openai.com/v1',
  defaultAuth: 'bearer',
  genAiName: 'openai',
  // A trailing assistant message is answered anew, not continued (as in Chat Completions).
  supportsPrefill: false,
  chatPath: '/responses',
  embeddingsPath: '/embeddings',
} as const satisfies ProviderAdapter;
