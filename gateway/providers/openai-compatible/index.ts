import type { ProviderAdapter } from '../types.js';

/**
 * Any server speaking the OpenAI Chat Completions API at a configured base URL:
 * vLLM, Ollama, Together, Groq, DeepSeek, OpenRouter. Azure OpenAI fits too with
 * `base_url: https://NAME.openai.azure.com/openai/deployments/{model}`,
 * `query: { api-version: ... }` and `auth: api-key`.
 */
export const openaiCompatible = {
  type: 'openai-compatible',
  format: 'openai-chat',
  defaultAuth: 'bearer',
  // Some servers continue a final assistant message (vLLM `continue_final_message`), most do not: opt in per provider.
  supportsPrefill: false,
  chatPath: '/chat/completions',
  embeddingsPath: '/embeddings',
  modelsPath: '/models',
} as const satisfies ProviderAdapter;
