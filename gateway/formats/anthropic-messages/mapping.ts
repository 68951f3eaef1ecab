import type { FinishReason, Usage } from '../canonical.js';
import type { AnthropicUsage } from './schema.js';

/** stop_reason → canonical. https://docs.anthropic.com/en/api/handling-stop-reasons */
export function finishIn(reason: string | null | undefined): FinishReason {
  switch (reason) {
    case 'max_tokens':
      return 'length';
    case 'stop_sequence':
      return 'stop_sequence';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      return 'stop'; // end_turn, pause_turn
  }
}

export function finishOut(reason: FinishReason): string {
  switch (reason) {
    case 'length':
      return 'max_tokens';
    case 'stop_sequence':
      return 'stop_sequence';
    case 'tool_calls':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    default:
      return 'end_turn';
  }
}

/** Anthropic's input_tokens excludes cache reads/writes; canonical input includes them. */
export function usageIn(u: AnthropicUsage | undefined, outputOverride?: number): Usage {
  const read = u?.cache_read_input_tokens ?? 0;
  const write = u?.cache_creation_input_tokens ?? 0;
  const usage: Usage = { inputTokens: (u?.input_tokens ?? 0) + read + write, outputTokens: outputOverride ?? u?.output_tokens ?? 0 };
  if (read > 0) usage.cacheReadTokens = read;
  if (write > 0) usage.cacheWriteTokens = write;
  return usage;
}

export function usageOut(u: Usage): Record<string, number> {
  const read = u.cacheReadTokens ?? 0;
  const write = u.cacheWriteTokens ?? 0;
  const out: Record<string, number> = { input_tokens: Math.max(0, u.inputTokens - read - write), output_tokens: u.outputTokens };
  if (u.cacheReadTokens !== undefined) out.cache_read_input_tokens = read;
  if (u.cacheWriteTokens !== undefined) out.cache_creation_input_tokens = write;
  return out;
}

export function messageId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id}`;
}
