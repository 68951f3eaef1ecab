import type { ProviderAdapter } from '../types.js';

/** OpenAI's own API: https://platform.openai.com/docs/api-reference/chat */
export const openai = {
  type: 'openai',
  format: 'openai-chat',
  defaultBaseUrl: 'https://api.openai.com/v1',
  defaultAuth: 'bearer',
  // Chat Completions answers a trailing assistant message anew rather than continuing it.
  genAiName: 'openai',
  supportsPrefill: false,
  chatPath: '/chat/completions',
  embeddingsPath: '/embeddings',
  modelsPath: '/models',
} as const satisfies ProviderAdapter;
