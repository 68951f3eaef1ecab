import { KeelError } from '../../errors.js';
import type { ChatRequest, Message, Part } from '../canonical.js';
import { argumentsObject, requireTranslatable } from '../shared.js';
import { extend } from '../../objects.js';

type Json = Record<string, unknown>;

/** Anthropic requires max_tokens; 4096 fits every current Claude model's output limit. */
const DEFAULT_MAX_TOKENS = 4096;

function blockOut(p: Part, where: string): Json | undefined {
  switch (p.type) {
    case 'text':
      return p.text === '' ? undefined : { type: 'text', text: p.text }; // the API rejects empty text blocks
    case 'image':
      return {
        type: 'image',
        source: p.source.kind === 'url' ? { type: 'url', url: p.source.url } : { type: 'base64', media_type: p.source.mediaType, data: p.source.data },
      };
    case 'tool_call':
      return { type: 'tool_use', id: p.id, name: p.name, input: argumentsObject(p.arguments, where) };
    case 'tool_result': {
      const out: Json = { type: 'tool_result', tool_use_id: p.toolCallId, content: p.content };
      if (p.isError) out.is_error = true;
      return out;
    }
  }
}

/** Canonical messages → alternating user/assistant turns; tool results join the next user turn. */
function messagesOut(messages: Message[]): Json[] {
  const out: { role: string; content: Json[] }[] = [];
  messages.forEach((m, i) => {
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = m.content.map((p) => blockOut(p, `messages.${i}`)).filter((b): b is Json => b !== undefined);
    const last = out[out.length - 1];
    // Anthropic needs strict alternation and all results of a tool turn in one user message.
    if (last !== undefined && last.role === role) last.content.push(...blocks);
    else out.push({ role, content: blocks });
  });
  return out;
}

function toolChoiceOut(req: ChatRequest): Json | undefined {
  const tc = req.toolChoice;
  let out: Json | undefined;
  if (tc === 'auto' || tc === 'none') out = { type: tc };
  else if (tc === 'required') out = { type: 'any' };
  else if (tc !== undefined) out = { type: 'tool', name: tc.name };
  if (req.parallelToolCalls === false && req.tools !== undefined) out = extend(out ?? { type: 'auto' }, { disable_parallel_tool_use: true });
  return out;
}

function rejectInexpressible(req: ChatRequest): void {
  if (req.n !== undefined && req.n > 1) {
    throw new KeelError('KEEL_UNSUPPORTED', 'n > 1 is not supported by anthropic-messages targets; send one request per completion.', { param: 'n' });
  }
  const rf = req.responseFormat?.type;
  if (rf !== undefined && rf !== 'text') {
    throw new KeelError('KEEL_UNSUPPORTED', `response_format "${typeof rf === 'string' ? rf : 'object'}" is not supported by anthropic-messages targets; route this request to an OpenAI-format target.`, {
      param: 'response_format',
    });
  }
}

/** The upstream body for an Anthropic-format target. Same-format requests keep the caller's body. */
export function buildRequest(req: ChatRequest, upstreamModel: string): Json {
  // A non-streaming caller's request may be streamed upstream (pipeline/assemble.ts): `stream` follows req.
  if (req.original.format === 'anthropic-messages') return withPrefill(extend(req.original.body, req.stream ? { model: upstreamModel, stream: true } : { model: upstreamModel }), req.prefill);
  requireTranslatable(req, 'anthropic-messages');
  rejectInexpressible(req);
  const body: Json = {
    model: upstreamModel,
    max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS,
    system: req.system,
    messages: messagesOut(req.prefill === undefined ? req.messages : [...req.messages, { role: 'assistant', content: [{ type: 'text', text: req.prefill }] }]),
    // OpenAI allows temperature up to 2, Anthropic up to 1.
    temperature: req.temperature === undefined ? undefined : Math.min(1, req.temperature),
    top_p: req.topP,
    top_k: req.topK,
    stop_sequences: req.stop,
    tools: req.tools?.map((t) => ({ name: t.name, description: t.description, input_schema: t.parameters })),
    tool_choice: toolChoiceOut(req),
    metadata: req.user === undefined ? undefined : { user_id: req.user },
    stream: req.stream || undefined,
  };
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

function withPrefill(body: Json, prefill: string | undefined): Json {
  if (prefill === undefined) return body;
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  return extend(body, { messages: [...messages, { role: 'assistant', content: prefill }] });
}
