import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { formats, type ChatRequest, type SseEvent, type StreamEvent } from '../../gateway/formats/index.js';
import { withOutputCap } from '../../gateway/stages/estimate.js';
import { parseSse, rejection } from '../helpers/formats.js';

const resp = formats['openai-responses'];
const oai = formats['openai-chat'];
const ant = formats['anthropic-messages'];

/** What the openai SDK's responses.stream() makes of an SSE text: every event applied to its snapshot. */
function sdkAccumulate(sse: string): { final: Response | undefined; types: string[]; errors: unknown[] } {
  let snap: Response | undefined;
  const types: string[] = [];
  const errors: unknown[] = [];
  for (const ev of parseSse(sse)) {
    const data = JSON.parse(ev.data) as ResponseStreamEvent & { error?: unknown };
    expect(ev.event).toBe(data.type);
    types.push(data.type);
    // The SDK raises an APIError for any event carrying `error` (core/streaming.ts).
    if (data.error) {
      errors.push(data.error);
      break;
    }
    snap = accumulateResponse(data, snap);
  }
  return { final: snap, types, errors };
}

describe('Responses request validation', () => {
  it.each([
    [{ input: 'x' }, 'model'],
    [{ model: 'm' }, 'input'],
    [{ model: 'm', input: [] }, 'input'],
    [{ model: 'm', input: [{ role: 'robot', content: 'x' }] }, 'input.0.role'],
    [{ model: 'm', input: [{ role: 'user', content: 5 }] }, 'input.0.content'],
    [{ model: 'm', input: [{ role: 'user', content: [{ type: 'input_text', text: 5 }] }] }, 'input.0.content.0.type'],
    [{ model: 'm', input: [{ type: 'function_call', call_id: 'c', name: 'f' }] }, 'input.0.arguments'],
    [{ model: 'm', input: [{ type: 'function_call_output', output: 'x' }] }, 'input.0.call_id'],
    [{ model: 'm', input: 'x', tools: [{ type: 'function', parameters: {} }] }, 'tools.0.name'],
    [{ model: 'm', input: 'x', temperature: 3 }, 'temperature'],
    [{ model: 'm', input: 'x', max_output_tokens: 0 }, 'max_output_tokens'],
    [{ model: 'm', input: 'x', text: { format: { type: 'json_schema', schema: {} } } }, 'text.format.name'],
    [{ model: 'm', input: 'x', tool_choice: { type: 'function' } }, 'tool_choice.name'],
  ])('%j → 400 naming %s', (body, param) => {
    const err = rejection(() => resp.parseRequest(body));
    expect(err.code).toBe('KEEL_INVALID_REQUEST');
    expect(err.param).toBe(param);
  });

  it('maps instructions and system items, images, calls and their outputs, tools, text.format', () => {
    const req = resp.parseRequest({
      model: 'm',
      instructions: 'A',
      input: [
        { role: 'developer', content: 'B' },
        { role: 'user', content: [{ type: 'input_text', text: 'look' }, { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'auto' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'calling', annotations: [] }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
        { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'one' },
        { type: 'function_call_output', call_id: 'c2', output: [{ type: 'input_text', text: 'two' }] },
        { type: 'reasoning', id: 'rs_1', summary: [] },
      ],
      tools: [{ type: 'function', name: 'f', description: 'd', parameters: { type: 'object' }, strict: true }],
      tool_choice: { type: 'function', name: 'f' },
      text: { format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true } },
      max_output_tokens: 50,
      store: true,
    });
    expect(req.system).toBe('A\n\nB');
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } }] },
      { role: 'assistant', content: [{ type: 'text', text: 'calling' }, { type: 'tool_call', id: 'c1', name: 'f', arguments: '{"a":1}' }, { type: 'tool_call', id: 'c2', name: 'g', arguments: '{}' }] },
      { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'c1', content: 'one' }] },
      { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'c2', content: 'two' }] },
    ]);
    expect(req.tools).toEqual([{ name: 'f', description: 'd', parameters: { type: 'object' } }]);
    expect(req.toolChoice).toEqual({ name: 'f' });
    expect(req.responseFormat).toEqual({ type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } });
    expect(req.maxTokens).toBe(50);
    expect(req.streamUsage).toBe(true);
    expect(req.sameFormatOnly).toBeUndefined();
    // To Anthropic the tool results of one turn join one user message, as it requires.
    const built = ant.buildRequest({ ...req, responseFormat: undefined }, 'claude', { forceStreamUsage: true });
    expect((built.messages as { role: string }[]).map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it.each([
    [{ previous_response_id: 'resp_1' }, 'previous_response_id', /stateless/],
    [{ conversation: 'conv_1' }, 'conversation', /stateless/],
    [{ tools: [{ type: 'web_search' }] }, 'tools.0.type', /function tools/],
    [{ input: [{ type: 'item_reference', id: 'msg_1' }, { role: 'user', content: 'x' }] }, 'input.0.type', /items/],
    [{ tool_choice: { type: 'web_search' } }, 'tool_choice.type', /tool_choice/],
  ])('%j passes through to a Responses target; to another format it is a 400 naming %s', (extra, param, reason) => {
    const req = resp.parseRequest({ model: 'm', input: 'x', ...extra });
    const native = resp.buildRequest(req, 'up', { forceStreamUsage: true });
    expect(native).toMatchObject({ ...extra, model: 'up' });
    for (const f of [oai, ant]) {
      const err = rejection(() => f.buildRequest(req, 'up', { forceStreamUsage: true }));
      expect(err.code).toBe('KEEL_UNSUPPORTED');
      expect(err.status).toBe(400);
      expect(err.param).toBe(param);
      expect(err.message).toMatch(reason);
    }
  });
});

describe('Responses request building', () => {
  const chatReq = (body: Record<string, unknown>): ChatRequest => oai.parseRequest({ model: 'route', ...body });

  it('from a Chat Completions caller: items, instructions, tools not strict, text.format, store off', () => {
    const req = chatReq({
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'r' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      response_format: { type: 'json_schema', json_schema: { name: 'o', schema: { type: 'object' }, strict: true } },
      max_tokens: 9,
      stream: true,
    });
    expect(resp.buildRequest(req, 'gpt-x', { forceStreamUsage: true })).toEqual({
      model: 'gpt-x',
      instructions: 'S',
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }, { type: 'input_image', image_url: 'https://x/y.png', detail: 'auto' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'r' },
      ],
      max_output_tokens: 9,
      tools: [{ type: 'function', name: 'f', parameters: { type: 'object' }, strict: false }],
      tool_choice: 'required',
      text: { format: { type: 'json_schema', name: 'o', schema: { type: 'object' }, strict: true } },
      stream: true,
      store: false,
    });
  });

  it('refuses what it cannot express: n > 1, stop sequences', () => {
    expect(rejection(() => resp.buildRequest(chatReq({ messages: [{ role: 'user', content: 'x' }], n: 2 }), 'm', { forceStreamUsage: false })).param).toBe('n');
    expect(rejection(() => resp.buildRequest(chatReq({ messages: [{ role: 'user', content: 'x' }], stop: ['END'] }), 'm', { forceStreamUsage: false })).param).toBe('stop');
  });

  it('a continuation prefill is a trailing assistant message, on a string input too', () => {
    const req = resp.parseRequest({ model: 'm', input: 'tell me', reasoning: { effort: 'low' } });
    const body = resp.buildRequest({ ...req, prefill: 'Once upon' }, 'up', { forceStreamUsage: true });
    expect(body).toEqual({ model: 'up', reasoning: { effort: 'low' }, input: [{ type: 'message', role: 'user', content: 'tell me' }, { type: 'message', role: 'assistant', content: 'Once upon' }] });
  });

  it('the route output cap reaches a pass-through body as max_output_tokens', () => {
    const req = resp.parseRequest({ model: 'm', input: 'x' });
    const capped = withOutputCap(req, 300);
    expect(capped.maxTokens).toBe(300);
    expect(resp.buildRequest(capped, 'up', { forceStreamUsage: true }).max_output_tokens).toBe(300);
    const own = resp.parseRequest({ model: 'm', input: 'x', max_output_tokens: 20 });
    expect(withOutputCap(own, 300).original.body.max_output_tokens).toBe(20);
  });
});

const upstreamResponse = {
  id: 'resp_1',
  object: 'response',
  created_at: 100,
  model: 'gpt-x',
  status: 'completed',
  error: null,
  incomplete_details: null,
  output: [
    { id: 'rs_1', type: 'reasoning', summary: [] },
    { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hi ', annotations: [] }, { type: 'output_text', text: 'there', annotations: [] }] },
    { id: 'fc_1', type: 'function_call', status: 'completed', call_id: 'c1', name: 'f', arguments: '{"a":1}' },
  ],
  usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 80 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 107 },
};

describe('Responses bodies', () => {
  it('parses text, calls, usage with cached input; a call means finish tool_calls', () => {
    const res = resp.parseResponse(upstreamResponse);
    expect(res).toMatchObject({ id: 'resp_1', model: 'gpt-x', created: 100, usage: { inputTokens: 100, outputTokens: 7, cacheReadTokens: 80 } });
    expect(res.choices).toEqual([{ index: 0, finishReason: 'tool_calls', content: [{ type: 'text', text: 'Hi ' }, { type: 'text', text: 'there' }, { type: 'tool_call', id: 'c1', name: 'f', arguments: '{"a":1}' }] }]);
  });

  it('incomplete for max_output_tokens is finish length, and renders back as incomplete', () => {
    const res = resp.parseResponse({ ...upstreamResponse, output: [upstreamResponse.output[1]], status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
    expect(res.choices[0]?.finishReason).toBe('length');
    expect(resp.renderResponse(res)).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  it.each([
    [{ status: 'failed', error: { code: 'server_error', message: 'boom' } }, 'KEEL_UPSTREAM_ERROR'],
    [{ status: 'failed', error: { code: 'rate_limit_exceeded', message: 'slow down' } }, 'KEEL_UPSTREAM_RATE_LIMITED'],
    [{ status: 'failed', error: { code: 'invalid_prompt', message: 'no' } }, 'KEEL_UPSTREAM_REJECTED'],
    [{ output: 'nope' }, 'KEEL_UPSTREAM_BAD_RESPONSE'],
  ])('a failed or broken response %j is %s', (extra, code) => {
    expect(rejection(() => resp.parseResponse({ ...upstreamResponse, ...extra })).code).toBe(code);
  });

  it('renders a canonical answer the SDK reads: message and function_call items in order, usage with details', () => {
    const res = oai.parseResponse({
      id: 'chatcmpl-1',
      model: 'm',
      created: 5,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Sure', tool_calls: [{ id: 'c9', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 3, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 1 } },
    });
    const body = resp.renderResponse(res) as unknown as Response;
    expect(body).toMatchObject({ id: 'resp_chatcmpl-1', object: 'response', created_at: 5, status: 'completed', error: null, model: 'm' });
    expect(body.output.map((o) => o.type)).toEqual(['message', 'function_call']);
    expect(body.output[1]).toMatchObject({ type: 'function_call', call_id: 'c9', name: 'f', arguments: '{}' });
    expect(body.usage).toEqual({ input_tokens: 3, input_tokens_details: { cached_tokens: 1 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 7 });
    // output_text is the SDK's to compute, not part of the wire body.
    expect('output_text' in body).toBe(false);
  });
});

const ev = (data: Record<string, unknown>): SseEvent => ({ event: String(data.type), data: JSON.stringify(data) });
const upstreamStream: SseEvent[] = [
  ev({ type: 'response.created', sequence_number: 0, response: { ...upstreamResponse, status: 'in_progress', output: [], usage: null } }),
  ev({ type: 'response.in_progress', sequence_number: 1, response: { ...upstreamResponse, status: 'in_progress', output: [], usage: null } }),
  ev({ type: 'response.output_item.added', sequence_number: 2, output_index: 0, item: { id: 'rs_1', type: 'reasoning', summary: [] } }),
  ev({ type: 'response.output_item.added', sequence_number: 3, output_index: 1, item: { id: 'msg_1', type: 'message', role: 'assistant', status: 'in_progress', content: [] } }),
  ev({ type: 'response.content_part.added', sequence_number: 4, output_index: 1, item_id: 'msg_1', content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
  ev({ type: 'response.output_text.delta', sequence_number: 5, output_index: 1, item_id: 'msg_1', content_index: 0, delta: 'Hi ' }),
  ev({ type: 'response.output_text.delta', sequence_number: 6, output_index: 1, item_id: 'msg_1', content_index: 0, delta: 'there' }),
  ev({ type: 'response.output_item.added', sequence_number: 7, output_index: 2, item: { id: 'fc_1', type: 'function_call', status: 'in_progress', call_id: 'c1', name: 'f', arguments: '' } }),
  ev({ type: 'response.function_call_arguments.delta', sequence_number: 8, output_index: 2, item_id: 'fc_1', delta: '{"a":' }),
  ev({ type: 'response.function_call_arguments.delta', sequence_number: 9, output_index: 2, item_id: 'fc_1', delta: '1}' }),
  ev({ type: 'response.output_item.added', sequence_number: 10, output_index: 3, item: { id: 'fc_2', type: 'function_call', status: 'in_progress', call_id: 'c2', name: 'g', arguments: '' } }),
  // A call whose arguments arrive only whole, in output_item.done.
  ev({ type: 'response.output_item.done', sequence_number: 11, output_index: 3, item: { id: 'fc_2', type: 'function_call', status: 'completed', call_id: 'c2', name: 'g', arguments: '{}' } }),
  ev({ type: 'response.completed', sequence_number: 12, response: upstreamResponse }),
];

describe('Responses streams', () => {
  it('decode to canonical events; response.completed is finish, usage and the end marker', () => {
    const d = resp.createStreamDecoder();
    const events = upstreamStream.flatMap((e) => d.decode(e));
    expect(events).toEqual<StreamEvent[]>([
      { type: 'start', id: 'resp_1', model: 'gpt-x', created: 100 },
      { type: 'text', choice: 0, text: 'Hi ' },
      { type: 'text', choice: 0, text: 'there' },
      { type: 'tool_call', choice: 0, index: 0, id: 'c1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"a":' },
      { type: 'tool_args', choice: 0, index: 0, delta: '1}' },
      { type: 'tool_call', choice: 0, index: 1, id: 'c2', name: 'g' },
      { type: 'tool_args', choice: 0, index: 1, delta: '{}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 100, outputTokens: 7, cacheReadTokens: 80 } },
      { type: 'end' },
    ]);
  });

  it('decode failures and errors: error and response.failed are in-band errors, a typeless event is malformed, unknown ones are skipped', () => {
    const d = resp.createStreamDecoder();
    expect(d.decode(ev({ type: 'error', code: 'server_error', message: 'boom', sequence_number: 1 }))).toEqual([{ type: 'error', message: 'boom', errorType: 'server_error' }]);
    expect(d.decode(ev({ type: 'response.failed', response: { ...upstreamResponse, status: 'failed', error: { code: 'server_error', message: 'x' } } }))[0]?.type).toBe('error');
    expect(d.decode(ev({ type: 'response.web_search_call.searching', output_index: 0 }))).toEqual([]);
    expect(rejection(() => d.decode({ data: '{"delta":"x"}' })).code).toBe('KEEL_UPSTREAM_BAD_RESPONSE');
    expect(rejection(() => d.decode({ data: '{"type":"response.output_text.delta"}' })).code).toBe('KEEL_UPSTREAM_BAD_RESPONSE');
  });

  const canonical: StreamEvent[] = [
    { type: 'start', id: 'chatcmpl-9', model: 'm', created: 7, inputTokens: 3 },
    { type: 'text', choice: 0, text: 'Let me ' },
    { type: 'text', choice: 0, text: 'check.' },
    { type: 'text', choice: 1, text: 'other choice' },
    { type: 'tool_call', choice: 0, index: 0, id: 'c1', name: 'f' },
    { type: 'tool_args', choice: 0, index: 0, delta: '{"q":' },
    { type: 'tool_args', choice: 0, index: 0, delta: '"x"}' },
    { type: 'finish', choice: 0, reason: 'tool_calls' },
    { type: 'usage', usage: { inputTokens: 3, outputTokens: 9 } },
    { type: 'end' },
  ];
  const req = resp.parseRequest({ model: 'route', input: 'x', stream: true });

  it('encode the whole event sequence the SDK accumulates, with increasing sequence numbers', () => {
    const enc = resp.createStreamEncoder(req);
    const sse = canonical.map((e) => enc.encode(e)).join('');
    const { final, types, errors } = sdkAccumulate(sse);
    expect(errors).toEqual([]);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const seqs = parseSse(sse).map((e) => (JSON.parse(e.data) as { sequence_number: number }).sequence_number);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(final).toMatchObject({ id: 'resp_chatcmpl-9', status: 'completed', model: 'm', usage: { input_tokens: 3, output_tokens: 9, total_tokens: 12 } });
    expect(final?.output_text).toBe('Let me check.');
    expect(final?.output[1]).toMatchObject({ type: 'function_call', call_id: 'c1', name: 'f', arguments: '{"q":"x"}', status: 'completed' });
    // And Keel's own decoder reads it back as the same answer.
    const d = resp.createStreamDecoder();
    const back = parseSse(sse).flatMap((e) => d.decode(e));
    expect(back.filter((e) => e.type !== 'start')).toEqual(canonical.filter((e) => e.type !== 'start' && !('choice' in e && e.choice !== 0)));
  });

  it('interleaved arguments of parallel calls (as Chat upstreams may send them) all reach the final snapshot', () => {
    const enc = resp.createStreamEncoder(req);
    const events: StreamEvent[] = [
      { type: 'start', id: 'x', model: 'm', created: 1 },
      { type: 'tool_call', choice: 0, index: 0, id: 'a', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"x"' },
      { type: 'tool_call', choice: 0, index: 1, id: 'b', name: 'g' },
      { type: 'tool_args', choice: 0, index: 1, delta: '{}' },
      { type: 'tool_args', choice: 0, index: 0, delta: ':1}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'end' },
    ];
    const { final } = sdkAccumulate(events.map((e) => enc.encode(e)).join(''));
    expect(final?.output.map((o) => (o.type === 'function_call' ? [o.call_id, o.arguments] : []))).toEqual([
      ['a', '{"x":1}'],
      ['b', '{}'],
    ]);
  });

  it('a length finish ends with response.incomplete (max_output_tokens)', () => {
    const enc = resp.createStreamEncoder(req);
    const sse = [canonical[0], canonical[1], { type: 'finish', choice: 0, reason: 'length' }, { type: 'end' }].map((e) => enc.encode(e as StreamEvent)).join('');
    const { final, types } = sdkAccumulate(sse);
    expect(types.at(-1)).toBe('response.incomplete');
    expect(final).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });

  it('error() is the in-band error event, carrying the OpenAI error object the SDK raises', () => {
    const enc = resp.createStreamEncoder(req);
    const sse = enc.encode(canonical[0] as StreamEvent) + enc.encode(canonical[1] as StreamEvent) + enc.error(new KeelError('KEEL_STREAM_BROKEN', 'provider p: connection lost mid-stream'));
    const { errors, types } = sdkAccumulate(sse);
    expect(types.at(-1)).toBe('error');
    expect(errors).toEqual([{ message: 'provider p: connection lost mid-stream', type: 'api_error', param: null, code: 'KEEL_STREAM_BROKEN' }]);
    const last = parseSse(sse).at(-1);
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ type: 'error', code: 'KEEL_STREAM_BROKEN', message: 'provider p: connection lost mid-stream' });
    expect(resp.createStreamDecoder().decode(last as SseEvent)).toEqual([{ type: 'error', message: 'provider p: connection lost mid-stream', errorType: 'KEEL_STREAM_BROKEN' }]);
  });

  it('terminator() ends a shadow-fed stream with response.completed holding what was seen', () => {
    const enc = resp.createStreamEncoder(req);
    for (const e of canonical.slice(0, 3)) enc.encode(e);
    const tail = parseSse(enc.terminator()).map((e) => JSON.parse(e.data) as { type: string; response?: Response });
    expect(tail.map((e) => e.type)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(tail.at(-1)?.response?.output).toHaveLength(1);
  });

  it('errors render in the OpenAI shape, the same as Chat Completions', () => {
    const err = new KeelError('KEEL_INVALID_REQUEST', 'input: bad', { param: 'input' });
    expect(resp.renderError(err)).toEqual(oai.renderError(err));
    expect(resp.renderError(err)).toEqual({ error: { message: 'input: bad', type: 'invalid_request_error', param: 'input', code: 'KEEL_INVALID_REQUEST' } });
  });
});
