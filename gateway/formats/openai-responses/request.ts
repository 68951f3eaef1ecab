import type { z } from 'zod';
import { KeelError } from '../../errors.js';
import type { ChatRequest, ImageSource, Message, Part, ToolChoice, ToolDef } from '../canonical.js';
import { invalid } from '../shared.js';
import { functionCallItem, functionOutputItem, functionTool, messageItem, responsesRequest, type ContentPart, type Item, type ResponsesRequest } from './schema.js';

type Path = (string | number)[];

function check<T>(schema: z.ZodType<T>, value: unknown, path: Path): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw invalid(r.error, path);
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageSource(url: string): ImageSource {
  const m = DATA_URL.exec(url);
  return m?.[1] !== undefined && m[2] !== undefined ? { kind: 'base64', mediaType: m[1], data: m[2] } : { kind: 'url', url };
}

/** Text and image parts; an image by file_id, files and audio have no canonical form and are dropped. */
function parts(content: string | ContentPart[]): Part[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  const out: Part[] = [];
  for (const p of content) {
    if ((p.type === 'input_text' || p.type === 'output_text') && 'text' in p && typeof p.text === 'string') out.push({ type: 'text', text: p.text });
    else if (p.type === 'refusal' && 'refusal' in p && typeof p.refusal === 'string') out.push({ type: 'text', text: p.refusal });
    else if (p.type === 'input_image' && 'image_url' in p && typeof p.image_url === 'string') out.push({ type: 'image', source: imageSource(p.image_url) });
  }
  return out;
}

const textOf = (content: string | ContentPart[]) => parts(content).map((p) => (p.type === 'text' ? p.text : '')).join('');

interface Conversation {
  system: string[];
  messages: Message[];
  /** An item Keel cannot translate (item_reference, hosted tool calls): it needs the caller's own format. */
  opaque: string | undefined;
}

/** Translatable item types; others (reasoning, item_reference, hosted tool calls) survive only same-format. */
function addItem(conv: Conversation, raw: Item, at: Path): void {
  const type = raw.type ?? 'message';
  if (type === 'message') {
    const m = check(messageItem, raw, at);
    if (m.role === 'system' || m.role === 'developer') conv.system.push(textOf(m.content));
    else conv.messages.push({ role: m.role, content: parts(m.content) });
  } else if (type === 'function_call') {
    const c = check(functionCallItem, raw, at);
    const last = conv.messages[conv.messages.length - 1];
    const call: Part = { type: 'tool_call', id: c.call_id, name: c.name, arguments: c.arguments };
    // A turn's calls follow its message as separate items; canonically they are one assistant turn.
    if (last?.role === 'assistant') last.content.push(call);
    else conv.messages.push({ role: 'assistant', content: [call] });
  } else if (type === 'function_call_output') {
    const o = check(functionOutputItem, raw, at);
    conv.messages.push({ role: 'tool', content: [{ type: 'tool_result', toolCallId: o.call_id, content: textOf(o.output) }] });
  } else if (type !== 'reasoning') {
    // Reasoning items are the model's own notes: dropping them changes nothing another model reads.
    conv.opaque ??= `${at.join('.')}.type`;
  }
}

function conversationOf(body: ResponsesRequest): Conversation {
  const conv: Conversation = { system: body.instructions ? [body.instructions] : [], messages: [], opaque: undefined };
  const input = body.input;
  if (typeof input === 'string') conv.messages.push({ role: 'user', content: input === '' ? [] : [{ type: 'text', text: input }] });
  else input?.forEach((it, i) => addItem(conv, it, ['input', i]));
  return conv;
}

function toolsOf(body: ResponsesRequest): { tools: ToolDef[] | undefined; hosted: string | undefined } {
  if (body.tools === undefined) return { tools: undefined, hosted: undefined };
  const tools: ToolDef[] = [];
  let hosted: string | undefined;
  body.tools.forEach((t, i) => {
    if (t.type !== 'function') {
      hosted ??= `tools.${i}.type`;
      return;
    }
    const f = check(functionTool, t, ['tools', i]);
    tools.push({ name: f.name, description: f.description ?? undefined, parameters: f.parameters ?? { type: 'object', properties: {} } });
  });
  return { tools, hosted };
}

function toolChoiceOf(tc: ResponsesRequest['tool_choice']): ToolChoice | undefined {
  if (tc === undefined || typeof tc === 'string') return tc;
  if (tc.type === 'function') {
    if (tc.name === undefined) throw new KeelError('KEEL_INVALID_REQUEST', 'tool_choice.name: a function tool_choice names the function', { param: 'tool_choice.name' });
    return { name: tc.name };
  }
  return undefined;
}

/** text.format in the Chat Completions `response_format` shape, the canonical carrier other formats read. */
function responseFormatOf(body: ResponsesRequest): Record<string, unknown> | undefined {
  const f = body.text?.format;
  if (f === undefined) return undefined;
  if (f.type !== 'json_schema') return { type: f.type };
  const schema: Record<string, unknown> = { name: f.name, schema: f.schema };
  if (f.strict !== undefined && f.strict !== null) schema.strict = f.strict;
  if (f.description !== undefined && f.description !== null) schema.description = f.description;
  return { type: 'json_schema', json_schema: schema };
}

/** What only a Responses target can do: state kept by OpenAI (Keel is stateless), hosted tools, untranslatable items. */
function sameFormatOnly(body: ResponsesRequest, opaque: string | undefined, hosted: string | undefined, tc: ResponsesRequest['tool_choice']): ChatRequest['sameFormatOnly'] {
  const stateless = 'Keel is stateless and this target cannot read a stored response or conversation; send the whole conversation as `input`';
  if (body.previous_response_id) return { param: 'previous_response_id', reason: stateless };
  if (body.conversation) return { param: 'conversation', reason: stateless };
  if (opaque !== undefined) return { param: opaque, reason: 'only function_call, function_call_output and message items can be translated for this target' };
  if (hosted !== undefined) return { param: hosted, reason: 'only function tools can be translated for this target' };
  if (typeof tc === 'object' && tc.type !== 'function') return { param: 'tool_choice.type', reason: 'only a function tool_choice can be translated for this target' };
  return undefined;
}

/** Validates a Responses API body (stateless use) and maps it to the canonical request. */
export function parseRequest(raw: unknown): ChatRequest {
  const parsed = responsesRequest.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error);
  const body = parsed.data;
  const stored = Boolean(body.previous_response_id) || Boolean(body.conversation);
  if (!stored && (body.input === undefined || (Array.isArray(body.input) && body.input.length === 0))) {
    throw new KeelError('KEEL_INVALID_REQUEST', 'input: send the conversation as `input` (a string or at least one item)', { param: 'input' });
  }
  const conv = conversationOf(body);
  const { tools, hosted } = toolsOf(body);
  const req: ChatRequest = {
    model: body.model,
    system: conv.system.length > 0 ? conv.system.join('\n\n') : undefined,
    messages: conv.messages,
    stream: body.stream === true,
    // Responses streams always carry usage (in response.completed).
    streamUsage: true,
    maxTokens: body.max_output_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    tools,
    toolChoice: toolChoiceOf(body.tool_choice),
    parallelToolCalls: body.parallel_tool_calls ?? undefined,
    responseFormat: responseFormatOf(body),
    user: body.user ?? undefined,
    original: { format: 'openai-responses', body: raw as Record<string, unknown> },
  };
  const only = sameFormatOnly(body, conv.opaque, hosted, body.tool_choice);
  if (only !== undefined) req.sameFormatOnly = only;
  return req;
}
