import type { ChatRequest } from '../formats/canonical.js';
import type { Price } from '../pipeline/record.js';
import type { ResolvedRoute, Runtime } from '../runtime/resolve.js';
import { extend } from '../objects.js';

/**
 * Upper bounds taken before the call, so a budget or a TPM limit is charged what the request
 * may cost, not what it turns out to cost (that is reconciled after). Input is estimated from
 * the body: about 4 characters per token for English text with the common BPE tokenizers
 * (OpenAI's own rule of thumb), plus each message's framing; an image counts as 1,000 tokens
 * (a high-detail 1024 × 1024 image is 765 on OpenAI, about 1,600 on Claude: the order is right).
 */
const CHARS_PER_TOKEN = 4;
const PER_MESSAGE = 4;
const PER_IMAGE = 1000;

export function estimateInputTokens(req: ChatRequest): number {
  let chars = (req.system ?? '').length + (req.prefill ?? '').length;
  let extra = 0;
  for (const m of req.messages) {
    extra += PER_MESSAGE;
    for (const p of m.content) {
      if (p.type === 'text') chars += p.text.length;
      else if (p.type === 'tool_call') chars += p.name.length + p.arguments.length;
      else if (p.type === 'tool_result') chars += p.content.length;
      else extra += PER_IMAGE;
    }
  }
  for (const t of req.tools ?? []) chars += t.name.length + (t.description ?? '').length + JSON.stringify(t.parameters).length;
  return Math.ceil(chars / CHARS_PER_TOKEN) + extra;
}

/** Output tokens the request may produce: its own max_tokens, else the route's cap. */
export function outputCap(runtime: Runtime, route: ResolvedRoute, req: ChatRequest): number {
  return req.maxTokens ?? runtime.config.routes[route.name]?.max_output_tokens ?? 4096;
}

/**
 * The cap made explicit upstream: a request without max_tokens gets the route's, so it cannot
 * produce more than was reserved for it. A same-format pass-through body gets it too (OpenAI
 * Chat `max_tokens`, Responses `max_output_tokens`; Anthropic requires max_tokens, so its bodies
 * always have one).
 */
export function withOutputCap(req: ChatRequest, cap: number): ChatRequest {
  if (req.maxTokens !== undefined) return req;
  const body = req.original.body;
  const format = req.original.format;
  let capped: Record<string, unknown> | undefined;
  if (format === 'openai-chat' && body.max_tokens == null && body.max_completion_tokens == null) capped = extend(body, { max_tokens: cap });
  else if (format === 'openai-responses' && body.max_output_tokens == null) capped = extend(body, { max_output_tokens: cap });
  return extend(req, { maxTokens: cap, original: capped === undefined ? req.original : extend(req.original, { body: capped }) });
}

/** The dearest input and output rates among every target the request could reach: its cost can be no higher. */
export function worstPrice(route: ResolvedRoute): Price {
  let input = 0;
  let output = 0;
  // A target with no price costs 0 in attribution (runtime/prices.ts), so it adds nothing here either.
  for (const t of [...route.targets, ...route.fallbacks]) {
    input = Math.max(input, t.price?.input ?? 0);
    output = Math.max(output, t.price?.output ?? 0);
  }
  return { input, output };
}

/** USD the request may cost at most. */
export function maxCostUsd(inputTokens: number, outputTokens: number, price: Price): number {
  return (inputTokens * price.input + outputTokens * price.output) / 1_000_000;
}
