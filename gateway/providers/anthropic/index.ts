import type { ProviderAdapter } from '../types.js';

/** Anthropic Messages API: https://docs.anthropic.com/en/api/messages */
export const anthropic = {
  type: 'anthropic',
  format: 'anthropic-messages',
  defaultBaseUrl: 'https://api.anthropic.com',
  defaultAuth: 'x-api-key',
  // https://docs.anthropic.com/en/docs/build-with-claude/prompt-engineering/prefill-claudes-response
  genAiName: 'anthropic',
  supportsPrefill: true,
  chatPath: '/v1/messages',
  // https://docs.anthropic.com/en/api/models-list
  modelsPath: '/v1/models',
  // The Messages API requires a version header; 2023-06-01 is the current stable one.
  headers: { 'anthropic-version': '2023-06-01' },
} as const satisfies ProviderAdapter;
