import type { z } from 'zod';
import type { ChatRequest, Message, Part, ToolChoice } from '../canonical.js';
import { invalid } from '../shared.js';
import { block, imageBlock, messagesRequest, textBlock, toolResultBlock, toolUseBlock, type MessagesRequest } from './schema.js';

type Block = z.infer<typeof block>;

function check<T>(schema: z.ZodType<T>, value: unknown, path: (string | number)[]): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw invalid(r.error, path);
}

function textOfBlocks(blocks: string | Block[] | undefined): string {
  if (blocks === undefined) return '';
  if (typeof blocks === 'string') return blocks;
  return blocks.map((b) => (b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('');
}

/** Known blocks become canonical parts; others (thinking, documents, server tools) are skipped here and survive only same-format. */
function blockParts(blocks: Block[], path: (string | number)[]): { parts: Part[]; results: Part[] } {
  const parts: Part[] = [];
  const results: Part[] = [];
  blocks.forEach((b, i) => {
    const at = [...path, i];
    if (b.type === 'text') parts.push({ type: 'text', text: check(textBlock, b, at).text });
    else if (b.type === 'image') {
      const { source } = check(imageBlock, b, at);
      parts.push({ type: 'image', source: source.type === 'url' ? { kind: 'url', url: source.url } : { kind: 'base64', mediaType: source.media_type, data: source.data } });
    } else if (b.type === 'tool_use') {
      const t = check(toolUseBlock, b, at);
      parts.push({ type: 'tool_call', id: t.id, name: t.name, arguments: JSON.stringify(t.input ?? {}) });
    } else if (b.type === 'tool_result') {
      const r = check(toolResultBlock, b, at);
      results.push({ type: 'tool_result', toolCallId: r.tool_use_id, content: textOfBlocks(r.content), isError: r.is_error });
    }
  });
  return { parts, results };
}

/** A user turn carrying tool results becomes canonical tool messages followed by the user's own parts. */
function toMessages(m: MessagesRequest['messages'][number], index: number): Message[] {
  if (typeof m.content === 'string') return [{ role: m.role, content: m.content === '' ? [] : [{ type: 'text', text: m.content }] }];
  const { parts, results } = blockParts(m.content, ['messages', index, 'content']);
  const out: Message[] = results.map((r) => ({ role: 'tool', content: [r] }));
  if (parts.length > 0 || results.length === 0) out.push({ role: m.role, content: parts });
  return out;
}

function toolChoiceOf(tc: MessagesRequest['tool_choice']): ToolChoice | undefined {
  if (tc === undefined) return undefined;
  switch (tc.type) {
    case 'any':
      return 'required';
    case 'tool':
      return tc.name === undefined ? 'required' : { name: tc.name };
    default:
      return tc.type;
  }
}

/** Validates an Anthropic Messages body and maps it to the canonical request. */
export function parseRequest(raw: unknown): ChatRequest {
  const parsed = messagesRequest.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const body = parsed.data;
  // Server tools (web search…) have no input_schema and no OpenAI equivalent.
  const tools = body.tools?.filter((t) => t.input_schema !== undefined);
  return {
    model: body.model,
    system: body.system === undefined ? undefined : textOfBlocks(body.system),
    messages: body.messages.flatMap(toMessages),
    stream: body.stream === true,
    // Anthropic streams always carry usage.
    streamUsage: true,
    maxTokens: body.max_tokens,
    temperature: body.temperature,
    topP: body.top_p,
    topK: body.top_k,
    stop: body.stop_sequences,
    tools: tools?.map((t) => ({ name: t.name, description: t.description, parameters: t.input_schema ?? {} })),
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.tool_choice?.disable_parallel_tool_use === true ? false : undefined,
    user: body.metadata?.user_id ?? undefined,
    original: { format: 'anthropic-messages', body: raw as Record<string, unknown> },
  };
}
