import type { ChatRequest, ImageSource, Message, Part, ToolChoice, ToolDef } from '../canonical.js';
import { invalid } from '../shared.js';
import { chatRequest, type OpenAIChatRequest, type OpenAIContent, type OpenAIMessage } from './schema.js';

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageSource(url: string): ImageSource {
  const m = DATA_URL.exec(url);
  return m?.[1] !== undefined && m[2] !== undefined ? { kind: 'base64', mediaType: m[1], data: m[2] } : { kind: 'url', url };
}

/** Text and image parts; other part types (audio, files) have no canonical form and are dropped. */
function parts(content: OpenAIContent | null | undefined): Part[] {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  const out: Part[] = [];
  for (const p of content) {
    if (p.type === 'text' && 'text' in p && typeof p.text === 'string') out.push({ type: 'text', text: p.text });
    else if (p.type === 'image_url' && 'image_url' in p) out.push({ type: 'image', source: imageSource((p.image_url as { url: string }).url) });
  }
  return out;
}

function textOf(content: OpenAIContent | null | undefined): string {
  return parts(content)
    .map((p) => (p.type === 'text' ? p.text : ''))
    .join('');
}

function toMessage(m: OpenAIMessage): Message | undefined {
  switch (m.role) {
    case 'system':
    case 'developer':
      return undefined;
    case 'user':
      return { role: 'user', content: parts(m.content) };
    case 'assistant': {
      const content = parts(m.content);
      for (const tc of m.tool_calls ?? []) content.push({ type: 'tool_call', id: tc.id, name: tc.function.name, arguments: tc.function.arguments });
      // Legacy function calling has no ids; the function name links call and result.
      if (m.function_call) content.push({ type: 'tool_call', id: `fn_${m.function_call.name}`, name: m.function_call.name, arguments: m.function_call.arguments });
      return { role: 'assistant', content };
    }
    case 'tool':
      return { role: 'tool', content: [{ type: 'tool_result', toolCallId: m.tool_call_id, content: textOf(m.content) }] };
    case 'function':
      return { role: 'tool', content: [{ type: 'tool_result', toolCallId: `fn_${m.name}`, content: m.content ?? '' }] };
  }
}

function toolsOf(body: OpenAIChatRequest): ToolDef[] | undefined {
  const defs = body.tools?.map((t) => t.function) ?? body.functions;
  return defs?.map((f) => ({ name: f.name, description: f.description, parameters: f.parameters ?? { type: 'object', properties: {} } }));
}

function toolChoiceOf(body: OpenAIChatRequest): ToolChoice | undefined {
  const tc = body.tool_choice;
  if (tc !== undefined) return typeof tc === 'string' ? tc : { name: tc.function.name };
  const fc = body.function_call;
  if (fc === undefined) return undefined;
  return typeof fc === 'string' ? fc : { name: fc.name };
}

/** Validates an OpenAI Chat Completions body and maps it to the canonical request. */
export function parseRequest(raw: unknown): ChatRequest {
  const parsed = chatRequest.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const body = parsed.data;
  // System and developer messages anywhere in the list become the one system prompt.
  const system = body.messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => textOf(m.content as OpenAIContent));
  const stop = body.stop ?? undefined;
  return {
    model: body.model,
    system: system.length > 0 ? system.join('\n\n') : undefined,
    messages: body.messages.map(toMessage).filter((m): m is Message => m !== undefined),
    stream: body.stream === true,
    streamUsage: body.stream_options?.include_usage === true,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    stop: stop === undefined ? undefined : Array.isArray(stop) ? stop : [stop],
    n: body.n ?? undefined,
    seed: body.seed ?? undefined,
    tools: toolsOf(body),
    toolChoice: toolChoiceOf(body),
    parallelToolCalls: body.parallel_tool_calls,
    responseFormat: body.response_format,
    user: body.user,
    original: { format: 'openai-chat', body: raw as Record<string, unknown> },
  };
}
