import type { Price } from '../pipeline/record.js';

/** USD for one answer: cached input at its own rate when both are known (cache tokens are a subset of input). */
export function costUsd(usage: { inputTokens: number; outputTokens: number; cacheReadTokens?: number }, price: Price): number {
  const cached = price.cache_read === undefined ? 0 : (usage.cacheReadTokens ?? 0);
  const fresh = usage.inputTokens - cached;
  return (fresh * price.input + cached * (price.cache_read ?? price.input) + usage.outputTokens * price.output) / 1_000_000;
}
