import type { ChatResponse, FinishReason, Part, Usage } from '../canonical.js';
import { badUpstream, nowSeconds } from '../shared.js';
import { chatResponse, type OpenAIUsage } from './schema.js';

/** OpenAI finish_reason → canonical; unknown values read as a normal stop. */
export function finishIn(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'length':
      return 'length';
    case 'tool_calls':
    case 'function_call':
      return 'tool_calls';
    case 'content_filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function finishOut(reason: FinishReason): string {
  switch (reason) {
    case 'length':
    case 'tool_calls':
    case 'content_filter':
      return reason;
    default:
      return 'stop';
  }
}

export function usageIn(u: OpenAIUsage | null | undefined): Usage {
  if (!u) return { inputTokens: 0, outputTokens: 0 };
  const cached = u.prompt_tokens_details?.cached_tokens;
  return cached ? { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens, cacheReadTokens: cached } : { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens };
}

export function usageOut(u: Usage): Record<string, unknown> {
  const out: Record<string, unknown> = { prompt_tokens: u.inputTokens, completion_tokens: u.outputTokens, total_tokens: u.inputTokens + u.outputTokens };
  if (u.cacheReadTokens !== undefined) out.prompt_tokens_details = { cached_tokens: u.cacheReadTokens };
  return out;
}

export function parseResponse(raw: unknown): ChatResponse {
  const parsed = chatResponse.safeParse(raw);
  if (!parsed.success) throw badUpstream('a chat completion', parsed.error);
  const body = parsed.data;
  return {
    id: body.id,
    model: body.model,
    created: body.created ?? nowSeconds(),
    choices: body.choices.map((c, i) => {
      const content: Part[] = [];
      const text = c.message.content ?? c.message.refusal;
      if (text) content.push({ type: 'text', text });
      for (const tc of c.message.tool_calls ?? []) content.push({ type: 'tool_call', id: tc.id, name: tc.function.name, arguments: tc.function.arguments });
      return { index: c.index ?? i, content, finishReason: finishIn(c.finish_reason) };
    }),
    usage: usageIn(body.usage),
  };
}

export function renderResponse(res: ChatResponse): Record<string, unknown> {
  return {
    id: res.id,
    object: 'chat.completion',
    created: res.created,
    model: res.model,
    choices: res.choices.map((c) => {
      const text = c.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
      const calls = c.content.flatMap((p) => (p.type === 'tool_call' ? [{ id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } }] : []));
      const message: Record<string, unknown> = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text, refusal: null };
      if (calls.length > 0) message.tool_calls = calls;
      return { index: c.index, message, logprobs: null, finish_reason: finishOut(c.finishReason) };
    }),
    usage: usageOut(res.usage),
  };
}
