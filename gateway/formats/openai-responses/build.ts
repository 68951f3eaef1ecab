import { KeelError } from '../../errors.js';
import type { ChatRequest, Message, Part } from '../canonical.js';
import { requireTranslatable } from '../shared.js';
import { extend } from '../../objects.js';

type Json = Record<string, unknown>;

function userContent(parts: Part[]): string | Json[] {
  if (parts.every((p) => p.type === 'text')) return parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return parts.flatMap((p): Json[] => {
    if (p.type === 'text') return [{ type: 'input_text', text: p.text }];
    if (p.type === 'image') {
      const url = p.source.kind === 'url' ? p.source.url : `data:${p.source.mediaType};base64,${p.source.data}`;
      return [{ type: 'input_image', image_url: url, detail: 'auto' }];
    }
    return [];
  });
}

/** One canonical message as input items: an assistant turn is its text message, then one item per call. */
function itemsOut(m: Message): Json[] {
  if (m.role === 'tool') return m.content.flatMap((p) => (p.type === 'tool_result' ? [{ type: 'function_call_output', call_id: p.toolCallId, output: p.content }] : []));
  if (m.role === 'user') return [{ type: 'message', role: 'user', content: userContent(m.content) }];
  const text = m.content.map((p) => (p.type === 'text' ? p.text : '')).join('');
  const calls = m.content.flatMap((p) => (p.type === 'tool_call' ? [{ type: 'function_call', call_id: p.id, name: p.name, arguments: p.arguments }] : []));
  return text === '' && calls.length > 0 ? calls : [{ type: 'message', role: 'assistant', content: text }, ...calls];
}

function toolChoiceOut(choice: ChatRequest['toolChoice']): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'function', name: choice.name };
}

/** Canonical `responseFormat` (Chat Completions' `response_format` shape) → Responses `text.format`. */
function textOut(rf: ChatRequest['responseFormat']): Json | undefined {
  if (rf === undefined) return undefined;
  if (rf.type === 'text' || rf.type === 'json_object') return { format: { type: rf.type } };
  const js = rf.json_schema as Json | undefined;
  if (rf.type === 'json_schema' && typeof js === 'object' && js !== null && typeof js.name === 'string') {
    const format: Json = { type: 'json_schema', name: js.name, schema: js.schema ?? {} };
    if (typeof js.strict === 'boolean') format.strict = js.strict;
    if (typeof js.description === 'string') format.description = js.description;
    return { format };
  }
  throw new KeelError('KEEL_UNSUPPORTED', `response_format "${typeof rf.type === 'string' ? rf.type : 'object'}" cannot be expressed for openai-responses targets.`, { param: 'response_format' });
}

function rejectInexpressible(req: ChatRequest): void {
  if (req.n !== undefined && req.n > 1) {
    throw new KeelError('KEEL_UNSUPPORTED', 'n > 1 is not supported by openai-responses targets; send one request per completion.', { param: 'n' });
  }
  // The Responses API has no stop sequences: dropping them would change the answer.
  if (req.stop !== undefined && req.stop.length > 0) {
    throw new KeelError('KEEL_UNSUPPORTED', 'stop sequences are not supported by openai-responses targets; route this request to a Chat Completions or Anthropic target.', { param: 'stop' });
  }
}

function withPrefill(body: Json, prefill: string | undefined): Json {
  if (prefill === undefined) return body;
  const input: unknown[] = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : Array.isArray(body.input) ? (body.input as unknown[]) : [];
  return extend(body, { input: [...input, { type: 'message', role: 'assistant', content: prefill }] });
}

/**
 * The upstream body for a Responses-format target. Same-format requests keep the caller's
 * body (previous_response_id, hosted tools, reasoning items survive); Responses streams always
 * carry usage, so `forceStreamUsage` needs nothing here.
 */
export function buildRequest(req: ChatRequest, upstreamModel: string): Json {
  // A non-streaming caller's request may be streamed upstream (pipeline/assemble.ts): `stream` follows req.
  if (req.original.format === 'openai-responses') return withPrefill(extend(req.original.body, req.stream ? { model: upstreamModel, stream: true } : { model: upstreamModel }), req.prefill);
  requireTranslatable(req, 'openai-responses');
  rejectInexpressible(req);
  const input = req.messages.flatMap(itemsOut);
  if (req.prefill !== undefined) input.push({ type: 'message', role: 'assistant', content: req.prefill });
  const body: Json = {
    model: upstreamModel,
    input,
    instructions: req.system,
    max_output_tokens: req.maxTokens,
    temperature: req.temperature,
    top_p: req.topP,
    // strict: false, because Responses defaults function tools to strict and a Chat or Anthropic caller's schema need not meet its rules.
    tools: req.tools?.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: t.parameters, strict: false })),
    tool_choice: toolChoiceOut(req.toolChoice),
    parallel_tool_calls: req.tools === undefined ? undefined : req.parallelToolCalls,
    text: textOut(req.responseFormat),
    user: req.user,
    stream: req.stream || undefined,
    // Keel never refers back to a stored response, so a translated request asks OpenAI not to keep one.
    store: false,
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
