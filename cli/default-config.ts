import { buildConfigSchema, type KeelConfig } from '../config/schema.js';
import { providerRules } from '../gateway/providers/index.js';
import type { BehaviourSpec } from '../simulator/index.js';

/**
 * The config Keel runs with when no keel.yaml exists: real providers when their
 * keys are in the environment, otherwise simulated ones, so `npm start` shows a
 * working gateway on a fresh machine.
 */
export function realProvidersConfig(env: NodeJS.ProcessEnv): KeelConfig | undefined {
  const providers: Record<string, unknown> = {};
  const routes: Record<string, unknown> = {};
  if (env.OPENAI_API_KEY) {
    providers.openai = { type: 'openai', api_key: env.OPENAI_API_KEY };
    routes['gpt-4o-mini'] = { targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] };
    routes['text-embedding-3-small'] = { targets: [{ provider: 'openai', model: 'text-embedding-3-small' }] };
  }
  if (env.ANTHROPIC_API_KEY) {
    providers.anthropic = { type: 'anthropic', api_key: env.ANTHROPIC_API_KEY };
    routes['claude-haiku-4-5'] = { targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] };
  }
  if (Object.keys(providers).length === 0) return undefined;
  return parse({ providers, routes });
}

/** Simulated models: realistic-looking timings so the demo shows TTFT and streaming. */
export const SIMULATED_MODELS: Record<string, BehaviourSpec> = {
  'sim-gpt': { ttft_ms: 120, itl_ms: 12, tokens: 40, latency_ms: 400 },
  'sim-claude': { ttft_ms: 180, itl_ms: 15, tokens: 40, latency_ms: 500 },
  'sim-embed': { latency_ms: 20 },
  'sim-flaky': { ttft_ms: 150, itl_ms: 12, tokens: 30, latency_ms: 300, error_rate: 0.2 },
};

export function simulatedConfig(simulatorUrl: string, port: number): KeelConfig {
  return parse({
    server: { port },
    providers: {
      'sim-openai': { type: 'openai-compatible', base_url: `${simulatorUrl}/v1`, api_key: 'sim-key' },
      'sim-anthropic': { type: 'anthropic', base_url: simulatorUrl, api_key: 'sim-key' },
    },
    routes: {
      chat: {
        targets: [
          { provider: 'sim-openai', model: 'sim-gpt', weight: 70 },
          { provider: 'sim-anthropic', model: 'sim-claude', weight: 30 },
        ],
      },
      'gpt-4o-mini': { targets: [{ provider: 'sim-openai', model: 'sim-gpt' }] },
      'claude-haiku-4-5': { targets: [{ provider: 'sim-anthropic', model: 'sim-claude' }] },
      'text-embedding-3-small': { targets: [{ provider: 'sim-openai', model: 'sim-embed' }] },
      // 20 % of sim-flaky's answers fail: retries and the fallback hide that from callers.
      flaky: { targets: [{ provider: 'sim-openai', model: 'sim-flaky' }], fallbacks: [{ provider: 'sim-anthropic', model: 'sim-claude' }] },
    },
  });
}

function parse(raw: unknown): KeelConfig {
  return buildConfigSchema(providerRules.providerTypes, providerRules.requireBaseUrl).parse(raw);
}
