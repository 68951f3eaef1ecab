/**
 * The provider registry: adding a provider is one folder plus one line here.
 * Config validation takes its list of `type` values from this registry.
 */
import { anthropic } from './anthropic/index.js';
import { openai } from './openai/index.js';
import { openaiCompatible } from './openai-compatible/index.js';
import { openaiResponses } from './openai-responses/index.js';
import type { ProviderAdapter } from './types.js';

export const providers: Readonly<Record<string, ProviderAdapter>> = Object.freeze({
  [openai.type]: openai,
  [anthropic.type]: anthropic,
  [openaiCompatible.type]: openaiCompatible,
  [openaiResponses.type]: openaiResponses,
});

export const providerTypes = Object.keys(providers) as [string, ...string[]];

/** Provider types that have no default endpoint, so a config must give `base_url`. */
export const typesRequiringBaseUrl = providerTypes.filter((t) => providers[t]?.defaultBaseUrl === undefined);

/** What config validation needs to know about the registry. */
export const providerRules = { providerTypes, requireBaseUrl: typesRequiringBaseUrl } as const;

export function adapterFor(type: string): ProviderAdapter {
  const adapter = providers[type];
  if (adapter === undefined) throw new Error(`no provider adapter registered for type "${type}"`);
  return adapter;
}

export type { AuthScheme, ProviderAdapter } from './types.js';
