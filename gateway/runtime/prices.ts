import type { Price } from '../pipeline/record.js';

/**
 * USD per million tokens for common models, from the providers' public price lists
 * (standard tier, 2026). `prices:` in keel.yaml adds to and overrides these; a
 * target's own `price` wins over both. Cost is only ever as good as this table,
 * so a model missing here costs 0 and says so (keel.cost_usd absent).
 */
export const BUILTIN_PRICES: Readonly<Record<string, Price>> = {
  'gpt-4o': { input: 2.5, output: 10, cache_read: 1.25 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cache_read: 0.075 },
  'gpt-4.1': { input: 2, output: 8, cache_read: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cache_read: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cache_read: 0.025 },
  'o4-mini': { input: 1.1, output: 4.4, cache_read: 0.275 },
  'text-embedding-3-small': { input: 0.02, output: 0 },
  'text-embedding-3-large': { input: 0.13, output: 0 },
  'claude-haiku-4-5': { input: 1, output: 5, cache_read: 0.1 },
  'claude-sonnet-4-5': { input: 3, output: 15, cache_read: 0.3 },
  'claude-opus-4-1': { input: 15, output: 75, cache_read: 1.5 },
};

/** USD for one answer: cached input at its own rate when both are known (cache tokens are a subset of input). */
export function costUsd(usage: { inputTokens: number; outputTokens: number; cacheReadTokens?: number }, price: Price): number {
  const cached = price.cache_read === undefined ? 0 : (usage.cacheReadTokens ?? 0);
  const fresh = usage.inputTokens - cached;
  return (fresh * price.input + cached * (price.cache_read ?? price.input) + usage.outputTokens * price.output) / 1_000_000;
}
