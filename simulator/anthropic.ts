import { fragments, type Answer } from './answer.js';
import { BadRequest, contentText, sseData, type AnswerContext, type ErrorKind, type Frame, type ParsedRequest, type SimApi } from './api.js';

interface Body {
  model?: unknown;
  max_tokens?: unknown;
  messages?: unknown;
  system?: unknown;
  stream?: unknown;
  tools?: { name?: unknown; input_schema?: unknown }[];
  tool_choice?: { type?: unknown; name?: unknown };
}

function read(raw: unknown): ParsedRequest {
  const body = raw as Body;
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string') throw new BadRequest('model: Field required');
  if (typeof body.max_tokens !== 'number') throw new BadRequest('max_tokens: Field required');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new BadRequest('messages: at least one message is required');
  const messages = body.messages as { role?: unknown; content?: unknown }[];
  const users = messages.filter((m) => m.role === 'user');
  const choice = body.tool_choice;
  const last = messages[messages.length - 1];
  const prefill = last?.role === 'assistant' ? contentText(last.content) : '';
  // The real API's rule: a prefill cannot end in whitespace.
  if (prefill !== prefill.trimEnd()) throw new BadRequest('messages: final assistant content cannot end with trailing whitespace');
  return {
    model: body.model,
    stream: body.stream === true,
    n: 1,
    includeUsage: true,
    answer: {
      lastUserText: contentText(users[users.length - 1]?.content),
      prefill,
      allText: [contentText(body.system), ...messages.map((m) => contentText(m.content))].join('\n'),
      tools: (body.tools ?? []).flatMap((t) => (typeof t.name === 'string' ? [{ name: t.name, schema: t.input_schema }] : [])),
      forcedTool: choice?.type === 'tool' && typeof choice.name === 'string' ? choice.name : undefined,
      toolChoiceNone: choice?.type === 'none',
      maxTokens: body.max_tokens,
    },
  };
}

const stopOf = (a: Answer) => (a.finish === 'tool' ? 'tool_use' : a.finish === 'length' ? 'max_tokens' : 'end_turn');

function body(a: Answer, ctx: AnswerContext): unknown {
  const content = a.tool ? [{ type: 'tool_use', id: a.tool.id, name: a.tool.name, input: JSON.parse(a.tool.args) as unknown }] : [{ type: 'text', text: a.tokens.join('') }];
  return {
    id: `msg_sim_${ctx.seq}`,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content,
    stop_reason: stopOf(a),
    stop_sequence: null,
    usage: { input_tokens: a.inputTokens, output_tokens: a.outputTokens },
  };
}

function frames(a: Answer, ctx: AnswerContext): Frame[] {
  const ev = (type: string, data: Record<string, unknown>) => sseData({ type, ...data }, type);
  const message = { id: `msg_sim_${ctx.seq}`, type: 'message', role: 'assistant', model: ctx.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: a.inputTokens, output_tokens: 1 } };
  const out: Frame[] = [{ text: ev('message_start', { message }), token: false }];
  if (a.tool) {
    out.push({ text: ev('content_block_start', { index: 0, content_block: { type: 'tool_use', id: a.tool.id, name: a.tool.name, input: {} } }), token: true });
    for (const f of fragments(a.tool.args)) out.push({ text: ev('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: f } }), token: true });
  } else {
    out.push({ text: ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }), token: false });
    out.push({ text: ev('ping', {}), token: false });
    for (const t of a.tokens) out.push({ text: ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } }), token: true });
  }
  out.push({ text: ev('content_block_stop', { index: 0 }), token: false });
  out.push({ text: ev('message_delta', { delta: { stop_reason: stopOf(a), stop_sequence: null }, usage: { output_tokens: a.outputTokens } }), token: false });
  out.push({ text: ev('message_stop', {}), token: false, terminator: true });
  return out;
}

const TYPES: Record<ErrorKind, string> = {
  rate_limit: 'rate_limit_error',
  server_error: 'api_error',
  overloaded: 'overloaded_error',
  context_length: 'invalid_request_error',
  content_policy: 'invalid_request_error',
  unauthorized: 'authentication_error',
  bad_request: 'invalid_request_error',
  not_found: 'not_found_error',
};

export const anthropicApi: SimApi = {
  id: 'anthropic-messages',
  read,
  toolId: (seq) => `toolu_sim_${seq}`,
  body,
  frames,
  error: (kind, _status, message) => ({ type: 'error', error: { type: TYPES[kind], message } }),
  malformed: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{\n\n',
};
