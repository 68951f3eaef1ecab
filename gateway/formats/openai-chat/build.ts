import type { ChatRequest, Message, Part } from '../canonical.js';
import { requireTranslatable } from '../shared.js';
import { extend } from '../../objects.js';

type Json = Record<string, unknown>;

function contentOut(parts: Part[]): string | Json[] {
  const media = parts.filter((p) => p.type === 'text' || p.type === 'image');
  if (media.every((p) => p.type === 'text')) return media.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return media.map((p) =>
    p.type === 'text'
      ? { type: 'text', text: p.text }
      : p.type === 'image'
        ? { type: 'image_url', image_url: { url: p.source.kind === 'url' ? p.source.url : `data:${p.source.mediaType};base64,${p.source.data}` } }
        : {},
  );
}

function messageOut(m: Message): Json[] {
  if (m.role === 'tool') {
    return m.content.flatMap((p) => (p.type === 'tool_result' ? [{ role: 'tool', tool_call_id: p.toolCallId, content: p.content }] : []));
  }
  if (m.role === 'user') return [{ role: 'user', content: contentOut(m.content) }];
  const calls = m.content.flatMap((p) => (p.type === 'tool_call' ? [{ id: p.id, type: 'function', function: { name: p.name, arguments: p.arguments } }] : []));
  const text = contentOut(m.content);
  const out: Json = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text };
  if (calls.length > 0) out.tool_calls = calls;
  return [out];
}

function toolChoiceOut(choice: ChatRequest['toolChoice']): unknown {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'function', function: { name: choice.name } };
}

/**
 * The upstream body for an OpenAI-format target. Same-format requests keep the
 * caller's body (every parameter Keel does not model survives); only the model
 * and, when Keel needs usage, stream_options change.
 */
export function buildRequest(req: ChatRequest, upstreamModel: string, opts: { forceStreamUsage: boolean }): Json {
  const streamOptions = req.stream && (opts.forceStreamUsage || req.streamUsage) ? { include_usage: true } : undefined;
  if (req.original.format === 'openai-chat') {
    // A non-streaming caller's request may be streamed upstream (pipeline/assemble.ts): `stream` follows req.
    const body: Json = extend(req.original.body, req.stream ? { model: upstreamModel, stream: true } : { model: upstreamModel });
    if (streamOptions) {
      const given = body.stream_options;
      body.stream_options = extend(typeof given === 'object' && given !== null ? given : {}, streamOptions);
    }
    if (req.prefill !== undefined) body.messages = [...(Array.isArray(body.messages) ? (body.messages as unknown[]) : []), { role: 'assistant', content: req.prefill }];
    return body;
  }
  requireTranslatable(req, 'openai-chat');
  const messages: Json[] = req.system === undefined ? [] : [{ role: 'system', content: req.system }];
  for (const m of req.messages) messages.push(...messageOut(m));
  if (req.prefill !== undefined) messages.push({ role: 'assistant', content: req.prefill });
  const body: Json = {
    model: upstreamModel,
    messages,
    // max_tokens rather than max_completion_tokens: every OpenAI-compatible server (vLLM,
    // Ollama, Groq…) accepts it, and OpenAI still does for non-reasoning models.
    max_tokens: req.maxTokens,
    temperature: req.temperature,
    top_p: req.topP,
    stop: req.stop,
    n: req.n,
    seed: req.seed,
    tools: req.tools?.map((t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } })),
    tool_choice: toolChoiceOut(req.toolChoice),
    parallel_tool_calls: req.tools === undefined ? undefined : req.parallelToolCalls,
    response_format: req.responseFormat,
    user: req.user,
    stream: req.stream || undefined,
    stream_options: streamOptions,
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}
