import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { formats } from '../../gateway/formats/index.js';
import type { SseEvent, StreamEvent } from '../../gateway/formats/index.js';
import { parseSse } from '../helpers/formats.js';

const oai = formats['openai-chat'];
const ant = formats['anthropic-messages'];


const anthropicUpstream: SseEvent[] = [
  { event: 'message_start', data: '{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":1}}}' },
  { event: 'content_block_start', data: '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}' },
  { event: 'ping', data: '{"type":"ping"}' },
  { event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi "}}' },
  { event: 'content_block_delta', data: '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"there"}}' },
  { event: 'content_block_stop', data: '{"type":"content_block_stop","index":0}' },
  { event: 'content_block_start', data: '{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}' },
  { event: 'content_block_delta', data: '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\":"}}' },
  { event: 'content_block_delta', data: '{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}' },
  { event: 'content_block_stop', data: '{"type":"content_block_stop","index":1}' },
  { event: 'message_delta', data: '{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":7}}' },
  { event: 'message_stop', data: '{"type":"message_stop"}' },
];

const openaiUpstream: SseEvent[] = [
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\":1}"}}]},"finish_reason":null}]}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}' },
  { data: '{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt-x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":4,"total_tokens":16,"prompt_tokens_details":{"cached_tokens":8}}}' },
  { data: '[DONE]' },
];

const decodeAll = (format: typeof oai, events: SseEvent[]): StreamEvent[] => {
  const d = format.createStreamDecoder();
  return events.flatMap((e) => d.decode(e));
};

describe('stream decoding', () => {
  it('Anthropic events → canonical, tool index counted among tool_use blocks, cache in input', () => {
    expect(decodeAll(ant, anthropicUpstream)).toEqual([
      { type: 'start', id: 'msg_1', model: 'claude-x', created: expect.any(Number) as number, inputTokens: 100 },
      { type: 'text', choice: 0, text: 'Hi ' },
      { type: 'text', choice: 0, text: 'there' },
      { type: 'tool_call', choice: 0, index: 0, id: 'toolu_1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"a":' },
      { type: 'tool_args', choice: 0, index: 0, delta: '1}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'usage', usage: { inputTokens: 100, outputTokens: 7, cacheReadTokens: 90 } },
      { type: 'end' },
    ]);
  });

  it('OpenAI chunks → canonical', () => {
    const events = decodeAll(oai, openaiUpstream);
    expect(events.map((e) => e.type)).toEqual(['start', 'text', 'text', 'tool_call', 'tool_args', 'finish', 'usage', 'end']);
    expect(events[6]).toEqual({ type: 'usage', usage: { inputTokens: 12, outputTokens: 4, cacheReadTokens: 8 } });
  });

  it('malformed chunks throw KEEL_UPSTREAM_BAD_RESPONSE; unknown Anthropic events are ignored', () => {
    expect(() => oai.createStreamDecoder().decode({ data: '{"choices":[{' })).toThrow(KeelError);
    expect(() => ant.createStreamDecoder().decode({ data: '{"type":"content_block_delta","index":"x"}' })).toThrow(/content_block_delta/);
    expect(ant.createStreamDecoder().decode({ data: '{"type":"future_event","x":1}' })).toEqual([]);
  });

  it('in-band upstream errors become error events', () => {
    expect(oai.createStreamDecoder().decode({ data: '{"error":{"message":"boom","type":"server_error"}}' })).toEqual([{ type: 'error', message: 'boom', errorType: 'server_error' }]);
    expect(ant.createStreamDecoder().decode({ event: 'error', data: '{"type":"error","error":{"type":"overloaded_error","message":"busy"}}' })).toEqual([
      { type: 'error', message: 'busy', errorType: 'overloaded_error' },
    ]);
  });
});

describe('stream translation', () => {
  const oaiReq = (streamUsage: boolean) => oai.parseRequest({ model: 'r', messages: [{ role: 'user', content: 'q' }], stream: true, stream_options: { include_usage: streamUsage } });
  const antReq = ant.parseRequest({ model: 'r', max_tokens: 5, messages: [{ role: 'user', content: 'q' }], stream: true });

  it('Anthropic upstream → OpenAI caller: chunks reassemble text, tool call, finish and usage', () => {
    const enc = oai.createStreamEncoder(oaiReq(true));
    const out = parseSse(decodeAll(ant, anthropicUpstream).map((e) => enc.encode(e)).join(''));
    expect(out[out.length - 1]?.data).toBe('[DONE]');
    const chunks = out.slice(0, -1).map((e) => JSON.parse(e.data) as { model: string; choices: { delta: { content?: string; role?: string; tool_calls?: { function: { arguments?: string; name?: string } }[] }; finish_reason: string | null }[]; usage?: { prompt_tokens: number; completion_tokens: number } });
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.every((c) => c.model === 'claude-x')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hi there');
    const args = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []).map((t) => t.function.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ a: 1 });
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks[chunks.length - 1]?.usage).toMatchObject({ prompt_tokens: 100, completion_tokens: 7 });
  });

  it('OpenAI caller without include_usage gets no usage chunk', () => {
    const enc = oai.createStreamEncoder(oaiReq(false));
    const text = decodeAll(ant, anthropicUpstream).map((e) => enc.encode(e)).join('');
    expect(text).not.toContain('"usage"');
  });

  it('OpenAI upstream → Anthropic caller: the exact Messages event sequence', () => {
    const enc = ant.createStreamEncoder(antReq);
    const out = parseSse(decodeAll(oai, openaiUpstream).map((e) => enc.encode(e)).join(''));
    expect(out.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = out.map((e) => JSON.parse(e.data) as Record<string, unknown>);
    expect(data[0]).toMatchObject({ message: { id: 'msg_c1', model: 'gpt-x', role: 'assistant' } });
    expect(data[5]).toMatchObject({ index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'f' } });
    expect(data[6]).toMatchObject({ index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1}' } });
    expect(data[8]).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 4, output_tokens: 4, cache_read_input_tokens: 8 } });
  });

  it('error events and terminators in each caller format', () => {
    const err = new KeelError('KEEL_STREAM_BROKEN', 'cut');
    expect(JSON.parse(parseSse(oai.createStreamEncoder(oaiReq(false)).error(err))[0]?.data ?? '')).toEqual({ error: { message: 'cut', type: 'api_error', param: null, code: 'KEEL_STREAM_BROKEN' } });
    expect(parseSse(ant.createStreamEncoder(antReq).error(err))[0]).toEqual({ event: 'error', data: '{"type":"error","error":{"type":"api_error","message":"cut"}}' });
    expect(oai.createStreamEncoder(oaiReq(false)).terminator()).toBe('data: [DONE]\n\n');
    expect(ant.createStreamEncoder(antReq).terminator()).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
  });
});

describe('responses', () => {
  it('Anthropic message → canonical → OpenAI completion keeps text, tool call, reason and usage', () => {
    const parsed = ant.parseResponse({
      id: 'msg_9',
      model: 'claude-x',
      content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id: 'tu', name: 'f', input: { a: [1] } }],
      stop_reason: 'tool_use',
      usage: { input_tokens: 5, output_tokens: 3, cache_creation_input_tokens: 20 },
    });
    expect(parsed.usage).toEqual({ inputTokens: 25, outputTokens: 3, cacheWriteTokens: 20 });
    expect(oai.renderResponse(parsed)).toMatchObject({
      object: 'chat.completion',
      model: 'claude-x',
      choices: [{ message: { content: 'ok', tool_calls: [{ id: 'tu', type: 'function', function: { name: 'f', arguments: '{"a":[1]}' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 25, completion_tokens: 3, total_tokens: 28 },
    });
  });

  it('OpenAI completion → Anthropic message, cache tokens subtracted from input_tokens', () => {
    const parsed = oai.parseResponse({
      id: 'chatcmpl-1',
      model: 'gpt-x',
      created: 1,
      choices: [{ index: 0, message: { role: 'assistant', content: 'yo' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 30, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 10 } },
    });
    expect(ant.renderResponse(parsed)).toEqual({
      id: 'msg_chatcmpl-1',
      type: 'message',
      role: 'assistant',
      model: 'gpt-x',
      content: [{ type: 'text', text: 'yo' }],
      stop_reason: 'max_tokens',
      stop_sequence: null,
      usage: { input_tokens: 20, output_tokens: 2, cache_read_input_tokens: 10 },
    });
  });

  it('rejects bodies that are not responses', () => {
    expect(() => oai.parseResponse({ choices: 'no' })).toThrow(/KEEL|could not read/);
    expect(() => ant.parseResponse({ id: 1 })).toThrow(KeelError);
  });

  it.each([
    ['KEEL_UNKNOWN_ROUTE', 'not_found_error', 'not_found_error'],
    ['KEEL_BODY_TOO_LARGE', 'invalid_request_error', 'request_too_large'],
    ['KEEL_UPSTREAM_RATE_LIMITED', 'rate_limit_error', 'rate_limit_error'],
    ['KEEL_UPSTREAM_UNAVAILABLE', 'api_error', 'overloaded_error'],
    ['KEEL_UPSTREAM_TIMEOUT', 'timeout_error', 'timeout_error'],
    ['KEEL_UNAUTHENTICATED', 'authentication_error', 'authentication_error'],
  ] as const)('%s renders as %s / %s', (code, openaiType, anthropicType) => {
    const err = new KeelError(code, 'm');
    expect(oai.renderError(err)).toEqual({ error: { message: 'm', type: openaiType, param: null, code } });
    expect(ant.renderError(err)).toEqual({ type: 'error', error: { type: anthropicType, message: 'm' } });
  });
});
