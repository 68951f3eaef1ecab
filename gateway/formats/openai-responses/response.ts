import { KeelError } from '../../errors.js';
import type { ChatResponse, FinishReason, Part, Usage } from '../canonical.js';
import { badUpstream, nowSeconds } from '../shared.js';
import { functionCallItem, outputMessage, response, type Item, type ResponseObject, type ResponsesUsage } from './schema.js';

type Json = Record<string, unknown>;

/** status + incomplete_details → canonical; a completed answer that called tools finished for them. */
export function finishIn(r: Pick<ResponseObject, 'status' | 'incomplete_details'>, calledTools: boolean): FinishReason {
  if (r.status === 'incomplete') return r.incomplete_details?.reason === 'content_filter' ? 'content_filter' : 'length';
  return calledTools ? 'tool_calls' : 'stop';
}

/** Canonical finish → the Response's status; only a cut-short answer is `incomplete`. */
export function statusOut(reason: FinishReason): { status: 'completed' | 'incomplete'; incomplete_details: { reason: string } | null } {
  if (reason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (reason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export function usageIn(u: ResponsesUsage | null | undefined): Usage {
  if (!u) return { inputTokens: 0, outputTokens: 0 };
  const cached = u.input_tokens_details?.cached_tokens;
  return cached ? { inputTokens: u.input_tokens, outputTokens: u.output_tokens, cacheReadTokens: cached } : { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
}

export function usageOut(u: Usage): Json {
  return {
    input_tokens: u.inputTokens,
    input_tokens_details: { cached_tokens: u.cacheReadTokens ?? 0 },
    output_tokens: u.outputTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.inputTokens + u.outputTokens,
  };
}

export const responseId = (id: string): string => (id.startsWith('resp_') ? id : `resp_${id}`);

/** The provider's verdict on a response it could not produce, as the error the attempt loop classifies. */
export function failure(error: ResponseObject['error'], provider: string): KeelError {
  const code = error?.code ?? undefined;
  const message = `${provider} could not produce the response: ${error?.message ?? 'status failed'}`;
  if (code === 'rate_limit_exceeded') return new KeelError('KEEL_UPSTREAM_RATE_LIMITED', message, { upstreamCode: code });
  // invalid_prompt, invalid_image…: the request's content, not the provider, is at fault.
  if (code !== undefined && code.startsWith('invalid_')) return new KeelError('KEEL_UPSTREAM_REJECTED', message, { upstreamCode: code });
  return new KeelError('KEEL_UPSTREAM_ERROR', message, { upstreamCode: code ?? 'response_failed' });
}

/** The text and function-call parts of output items, in order; reasoning and hosted tool items carry none. */
export function partsOfOutput(output: Item[]): Part[] {
  const parts: Part[] = [];
  for (const it of output) {
    const msg = outputMessage.safeParse(it);
    if (msg.success) {
      for (const c of msg.data.content) {
        const text = c.type === 'output_text' ? c.text : c.type === 'refusal' ? c.refusal : undefined;
        if (text) parts.push({ type: 'text', text });
      }
      continue;
    }
    const call = functionCallItem.safeParse(it);
    if (call.success) parts.push({ type: 'tool_call', id: call.data.call_id, name: call.data.name, arguments: call.data.arguments });
  }
  return parts;
}

export function parseResponse(raw: unknown): ChatResponse {
  const parsed = response.safeParse(raw);
  if (!parsed.success) throw badUpstream('a response', parsed.error);
  const body = parsed.data;
  if (body.status === 'failed' || (body.error !== undefined && body.error !== null)) throw failure(body.error, 'the provider');
  const content = partsOfOutput(body.output);
  const finishReason = finishIn(body, content.some((p) => p.type === 'tool_call'));
  return { id: body.id, model: body.model, created: body.created_at ?? nowSeconds(), choices: [{ index: 0, content, finishReason }], usage: usageIn(body.usage) };
}

/** Output items for parts: consecutive text is one message item, each tool call its own function_call item. */
export function outputOf(parts: Part[], base: string, done: boolean): Json[] {
  const out: Json[] = [];
  let text: string | undefined;
  const flush = () => {
    if (text === undefined) return;
    out.push(messageItem(`msg_${base}_${out.length}`, text, done ? 'completed' : 'incomplete'));
    text = undefined;
  };
  for (const p of parts) {
    if (p.type === 'text') text = (text ?? '') + p.text;
    else if (p.type === 'tool_call') {
      flush();
      out.push(functionCallOut(`fc_${base}_${out.length}`, p.id, p.name, p.arguments, 'completed'));
    }
  }
  flush();
  return out;
}

export const textPart = (text: string): Json => ({ type: 'output_text', text, annotations: [], logprobs: [] });

export function messageItem(id: string, text: string | undefined, status: string): Json {
  return { id, type: 'message', status, role: 'assistant', content: text === undefined ? [] : [textPart(text)] };
}

export function functionCallOut(id: string, callId: string, name: string, args: string, status: string): Json {
  return { id, type: 'function_call', status, call_id: callId, name, arguments: args };
}

/** A whole Response object; the stream encoder's snapshots are this too. `output_text` is the SDK's to compute. */
export function responseObject(r: { id: string; model: string; created: number; output: Json[]; status: string; incomplete: Json | null; usage: Usage | undefined }): Json {
  return {
    id: responseId(r.id),
    object: 'response',
    created_at: r.created,
    status: r.status,
    background: false,
    error: null,
    incomplete_details: r.incomplete,
    instructions: null,
    max_output_tokens: null,
    metadata: {},
    model: r.model,
    output: r.output,
    parallel_tool_calls: true,
    previous_response_id: null,
    store: false,
    temperature: null,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: null,
    truncation: 'disabled',
    usage: r.usage === undefined ? null : usageOut(r.usage),
  };
}

/** A canonical response as a Responses API `response`; the Responses API has one choice, so choice 0. */
export function renderResponse(res: ChatResponse): Json {
  const choice = res.choices[0];
  const { status, incomplete_details } = statusOut(choice?.finishReason ?? 'stop');
  const base = responseId(res.id).slice(5);
  return responseObject({ id: res.id, model: res.model, created: res.created, output: outputOf(choice?.content ?? [], base, status === 'completed'), status, incomplete: incomplete_details, usage: res.usage });
}
