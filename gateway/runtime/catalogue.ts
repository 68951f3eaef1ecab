import type { Price } from '../pipeline/record.js';

/** What Keel knows of a model without being told: its price and its context window. */
export interface ModelFacts {
  /** USD per million tokens (standard tier). */
  price: Price;
  /** Input plus output tokens the model accepts. */
  contextWindow: number;
}

/**
 * The built-in catalogue of common models, from the providers' public model and price pages
 * (standard tier, late 2026). It is the one data file for both facts: keel.yaml overrides and
 * extends it (`prices:` and `context_windows:` by upstream model name; a target's own `price`
 * and `context_window` win over both). Cost is only ever as good as this table: a model missing
 * here costs 0 and says so (keel.cost_usd absent); a window missing here is unknown, and a
 * context-length failure then still tries that target (it may fit).
 */
export const CATALOGUE: Readonly<Record<string, ModelFacts>> = {
  'gpt-5': { price: { input: 1.25, output: 10, cache_read: 0.125 }, contextWindow: 400_000 },
  'gpt-5-mini': { price: { input: 0.25, output: 2, cache_read: 0.025 }, contextWindow: 400_000 },
  'gpt-5-nano': { price: { input: 0.05, output: 0.4, cache_read: 0.005 }, contextWindow: 400_000 },
  'gpt-4o': { price: { input: 2.5, output: 10, cache_read: 1.25 }, contextWindow: 128_000 },
  'gpt-4o-mini': { price: { input: 0.15, output: 0.6, cache_read: 0.075 }, contextWindow: 128_000 },
  'gpt-4.1': { price: { input: 2, output: 8, cache_read: 0.5 }, contextWindow: 1_047_576 },
  'gpt-4.1-mini': { price: { input: 0.4, output: 1.6, cache_read: 0.1 }, contextWindow: 1_047_576 },
  'gpt-4.1-nano': { price: { input: 0.1, output: 0.4, cache_read: 0.025 }, contextWindow: 1_047_576 },
  o3: { price: { input: 2, output: 8, cache_read: 0.5 }, contextWindow: 200_000 },
  'o4-mini': { price: { input: 1.1, output: 4.4, cache_read: 0.275 }, contextWindow: 200_000 },
  'text-embedding-3-small': { price: { input: 0.02, output: 0 }, contextWindow: 8_191 },
  'text-embedding-3-large': { price: { input: 0.13, output: 0 }, contextWindow: 8_191 },
  'claude-haiku-4-5': { price: { input: 1, output: 5, cache_read: 0.1 }, contextWindow: 200_000 },
  'claude-sonnet-4-5': { price: { input: 3, output: 15, cache_read: 0.3 }, contextWindow: 200_000 },
  'claude-opus-4-5': { price: { input: 5, output: 25, cache_read: 0.5 }, contextWindow: 200_000 },
  'claude-opus-4-1': { price: { input: 15, output: 75, cache_read: 1.5 }, contextWindow: 200_000 },
};
