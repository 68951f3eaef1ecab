import { fragments, type Answer } from './answer.js';
import { BadRequest, contentText, sseData, type AnswerContext, type Frame, type ParsedRequest, type SimApi } from './api.js';
import { openaiApi } from './openai.js';

/** The OpenAI Responses API (POST /v1/responses), stateless: what a Responses-format target answers. */
interface Body {
  model?: unknown;
  input?: unknown;
  instructions?: unknown;
  stream?: unknown;
  tools?: { type?: unknown; name?: unknown; parameters?: unknown }[];
  tool_choice?: unknown;
  max_output_tokens?: unknown;
  previous_response_id?: unknown;
}

interface InputItem {
  type?: unknown;
  role?: unknown;
  content?: unknown;
  output?: unknown;
  arguments?: unknown;
}

function itemText(it: InputItem): string {
  if (it.type === 'function_call_output') return contentText(it.output);
  if (it.type === 'function_call') return typeof it.arguments === 'string' ? it.arguments : '';
  return contentText(it.content);
}

function read(raw: unknown): ParsedRequest {
  const body = raw as Body;
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string') throw new BadRequest("Missing required parameter: 'model'.");
  const items: InputItem[] = typeof body.input === 'string' ? [{ role: 'user', content: body.input }] : Array.isArray(body.input) ? (body.input as InputItem[]) : [];
  if (items.length === 0) throw new BadRequest("Missing required parameter: 'input'.");
  const users = items.filter((m) => (m.type === undefined || m.type === 'message') && m.role === 'user');
  const choice = body.tool_choice as { type?: unknown; name?: unknown } | string | undefined;
  return {
    model: body.model,
    // The simulator keeps no responses: a reference to one is unknown to it, as to a fresh account.
    unknownState: typeof body.previous_response_id === 'string' ? `Previous response with id '${body.previous_response_id}' not found.` : undefined,
    stream: body.stream === true,
    n: 1,
    includeUsage: true,
    answer: {
      lastUserText: contentText(users[users.length - 1]?.content),
      // A trailing assistant message gets a fresh answer, as in Chat Completions.
      prefill: '',
      allText: [contentText(body.instructions), ...items.map(itemText)].join('\n'),
      tools: (body.tools ?? []).flatMap((t) => (t.type === 'function' && typeof t.name === 'string' ? [{ name: t.name, schema: t.parameters }] : [])),
      forcedTool: typeof choice === 'object' && choice.type === 'function' && typeof choice.name === 'string' ? choice.name : undefined,
      toolChoiceNone: choice === 'none',
      maxTokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : undefined,
    },
  };
}

const usageOf = (a: Answer) => ({
  input_tokens: a.inputTokens,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: a.outputTokens,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: a.inputTokens + a.outputTokens,
});

const textPart = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

function outputItem(a: Answer, ctx: AnswerContext, status: string): Record<string, unknown> {
  if (a.tool) return { id: `fc_sim_${ctx.seq}`, type: 'function_call', status, call_id: a.tool.id, name: a.tool.name, arguments: status === 'in_progress' ? '' : a.tool.args };
  return { id: `msg_sim_${ctx.seq}`, type: 'message', status, role: 'assistant', content: status === 'in_progress' ? [] : [textPart(a.tokens.join(''))] };
}

function response(a: Answer, ctx: AnswerContext, final: boolean): Record<string, unknown> {
  const cut = a.finish === 'length';
  const status = !final ? 'in_progress' : cut ? 'incomplete' : 'completed';
  return {
    id: `resp_sim_${ctx.seq}`,
    object: 'response',
    created_at: ctx.created,
    status,
    error: null,
    incomplete_details: final && cut ? { reason: 'max_output_tokens' } : null,
    instructions: null,
    metadata: {},
    model: ctx.model,
    output: final ? [outputItem(a, ctx, cut ? 'incomplete' : 'completed')] : [],
    parallel_tool_calls: true,
    temperature: 1,
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    usage: final ? usageOf(a) : null,
  };
}

function frames(a: Answer, ctx: AnswerContext): Frame[] {
  let seq = 0;
  const ev = (type: string, data: Record<string, unknown>) => sseData({ type, sequence_number: seq++, ...data }, type);
  const item = outputItem(a, ctx, 'in_progress');
  const at = { item_id: item.id, output_index: 0 };
  const out: Frame[] = [
    { text: ev('response.created', { response: response(a, ctx, false) }), token: false },
    { text: ev('response.in_progress', { response: response(a, ctx, false) }), token: false },
  ];
  if (a.tool) {
    out.push({ text: ev('response.output_item.added', { output_index: 0, item }), token: true });
    for (const f of fragments(a.tool.args)) out.push({ text: ev('response.function_call_arguments.delta', { ...at, delta: f }), token: true });
    out.push({ text: ev('response.function_call_arguments.done', { ...at, name: a.tool.name, arguments: a.tool.args }), token: false });
  } else {
    const text = a.tokens.join('');
    out.push({ text: ev('response.output_item.added', { output_index: 0, item }), token: false });
    out.push({ text: ev('response.content_part.added', { ...at, content_index: 0, part: textPart('') }), token: false });
    for (const t of a.tokens) out.push({ text: ev('response.output_text.delta', { ...at, content_index: 0, delta: t, logprobs: [] }), token: true });
    out.push({ text: ev('response.output_text.done', { ...at, content_index: 0, text, logprobs: [] }), token: false });
    out.push({ text: ev('response.content_part.done', { ...at, content_index: 0, part: textPart(text) }), token: false });
  }
  const final = response(a, ctx, true);
  out.push({ text: ev('response.output_item.done', { output_index: 0, item: (final.output as unknown[])[0] }), token: false });
  out.push({ text: ev(final.status === 'completed' ? 'response.completed' : 'response.incomplete', { response: final }), token: false, terminator: true });
  return out;
}

export const responsesApi: SimApi = {
  id: 'openai-responses',
  read,
  toolId: (seq) => `call_sim_${seq}`,
  body: (a, ctx) => response(a, ctx, true),
  frames,
  // Errors have the OpenAI shape, as in Chat Completions.
  error: (kind, status, message) => openaiApi.error(kind, status, message),
  malformed: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n',
};
