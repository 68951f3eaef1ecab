import { fragments, type Answer } from './answer.js';
import { BadRequest, contentText, sseData, type AnswerContext, type ErrorKind, type Frame, type ParsedRequest, type SimApi } from './api.js';

interface Body {
  model?: unknown;
  messages?: unknown;
  stream?: unknown;
  n?: unknown;
  stream_options?: { include_usage?: unknown };
  tools?: { function?: { name?: unknown; parameters?: unknown } }[];
  tool_choice?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
}

function read(raw: unknown): ParsedRequest {
  const body = raw as Body;
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string') throw new BadRequest('you must provide a model parameter');
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new BadRequest("'messages' must be a non-empty array");
  const messages = body.messages as { role?: unknown; content?: unknown }[];
  const users = messages.filter((m) => m.role === 'user');
  const choice = body.tool_choice as { function?: { name?: string } } | string | undefined;
  const max = body.max_completion_tokens ?? body.max_tokens;
  return {
    model: body.model,
    stream: body.stream === true,
    n: typeof body.n === 'number' && body.n > 1 ? body.n : 1,
    includeUsage: body.stream_options?.include_usage === true,
    answer: {
      lastUserText: contentText(users[users.length - 1]?.content),
      // Chat Completions has no prefill: a trailing assistant message gets a fresh answer.
      prefill: '',
      allText: messages.map((m) => contentText(m.content)).join('\n'),
      tools: (body.tools ?? []).flatMap((t) => (typeof t.function?.name === 'string' ? [{ name: t.function.name, schema: t.function.parameters }] : [])),
      forcedTool: typeof choice === 'object' ? choice.function?.name : undefined,
      toolChoiceNone: choice === 'none',
      maxTokens: typeof max === 'number' ? max : undefined,
    },
  };
}

const finishOf = (a: Answer) => (a.finish === 'tool' ? 'tool_calls' : a.finish);
const usageOf = (a: Answer) => ({ prompt_tokens: a.inputTokens, completion_tokens: a.outputTokens, total_tokens: a.inputTokens + a.outputTokens });

function body(a: Answer, ctx: AnswerContext): unknown {
  const message = {
    role: 'assistant',
    content: a.tool ? null : a.tokens.join(''),
    refusal: null,
    ...(a.tool ? { tool_calls: [{ id: a.tool.id, type: 'function', function: { name: a.tool.name, arguments: a.tool.args } }] } : {}),
  };
  const choices = Array.from({ length: ctx.n }, (_, index) => ({ index, message, logprobs: null, finish_reason: finishOf(a) }));
  return { id: `chatcmpl-sim-${ctx.seq}`, object: 'chat.completion', created: ctx.created, model: ctx.model, choices, usage: usageOf(a) };
}

function frames(a: Answer, ctx: AnswerContext): Frame[] {
  const chunk = (choices: unknown[], usage: unknown = null) =>
    sseData({ id: `chatcmpl-sim-${ctx.seq}`, object: 'chat.completion.chunk', created: ctx.created, model: ctx.model, choices, ...(ctx.includeUsage ? { usage } : {}) });
  const each = (delta: unknown, finish: string | null = null) =>
    Array.from({ length: ctx.n }, (_, index) => ({ index, delta, logprobs: null, finish_reason: finish }));
  const out: Frame[] = [{ text: chunk(each({ role: 'assistant', content: '' })), token: false }];
  if (a.tool) {
    const call = { index: 0, id: a.tool.id, type: 'function', function: { name: a.tool.name, arguments: '' } };
    out.push({ text: chunk(each({ tool_calls: [call] })), token: true });
    for (const f of fragments(a.tool.args)) out.push({ text: chunk(each({ tool_calls: [{ index: 0, function: { arguments: f } }] })), token: true });
  } else {
    for (const t of a.tokens) out.push({ text: chunk(each({ content: t })), token: true });
  }
  out.push({ text: chunk(each({}, finishOf(a))), token: false });
  if (ctx.includeUsage) out.push({ text: chunk([], usageOf(a)), token: false });
  out.push({ text: 'data: [DONE]\n\n', token: false, terminator: true });
  return out;
}

const TYPES: Record<ErrorKind, [string, string | null]> = {
  rate_limit: ['rate_limit_error', 'rate_limit_exceeded'],
  server_error: ['server_error', null],
  overloaded: ['server_error', 'overloaded'],
  context_length: ['invalid_request_error', 'context_length_exceeded'],
  content_policy: ['invalid_request_error', 'content_policy_violation'],
  unauthorized: ['invalid_request_error', 'invalid_api_key'],
  bad_request: ['invalid_request_error', null],
  not_found: ['invalid_request_error', 'not_found'],
};

export const openaiApi: SimApi = {
  id: 'openai-chat',
  read,
  toolId: (seq) => `call_sim_${seq}`,
  body,
  frames,
  error: (kind, _status, message) => {
    const [type, code] = TYPES[kind];
    return { error: { message, type, param: kind === 'context_length' ? 'messages' : null, code } };
  },
  malformed: 'data: {"choices":[{\n\n',
};
