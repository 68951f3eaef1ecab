import { describe, expect, it } from 'vitest';
import { formats } from '../../gateway/formats/index.js';
import { rejection } from '../helpers/formats.js';

const oai = formats['openai-chat'];
const ant = formats['anthropic-messages'];


describe('OpenAI request validation', () => {
  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'm', messages: [] }, 'messages'],
    [{ model: 'm', messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
    [{ model: 'm', messages: [{ role: 'robot', content: 'x' }] }, 'messages.0.role'],
    [{ model: 'm', messages: [{ role: 'tool', content: 'x' }] }, 'messages.0.tool_call_id'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 3 }, 'temperature'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], n: 0 }, 'n'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }], stop: 1 }, 'stop'],
  ])('%j → 400 naming %s', (body, param) => {
    const err = rejection(() => oai.parseRequest(body));
    expect(err.code).toBe('KEEL_INVALID_REQUEST');
    expect(err.param).toBe(param);
    expect(err.message.startsWith(`${param}: `)).toBe(true);
  });

  it('maps system/developer, images, tool calls, tool results and legacy functions', () => {
    const req = oai.parseRequest({
      model: 'm',
      messages: [
        { role: 'system', content: 'A' },
        { role: 'developer', content: [{ type: 'text', text: 'B' }] },
        { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'done' },
        { role: 'assistant', content: null, function_call: { name: 'g', arguments: '{}' } },
        { role: 'function', name: 'g', content: 'ok' },
      ],
      max_completion_tokens: 50,
      stop: 'END',
      functions: [{ name: 'g', parameters: { type: 'object' } }],
      function_call: { name: 'g' },
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(req.system).toBe('A\n\nB');
    expect(req.messages[0]).toEqual({ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'AAAA' } }] });
    expect(req.messages[1]).toEqual({ role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'f', arguments: '{"a":1}' }] });
    expect(req.messages[2]).toEqual({ role: 'tool', content: [{ type: 'tool_result', toolCallId: 'c1', content: 'done' }] });
    expect(req.messages[4]).toEqual({ role: 'tool', content: [{ type: 'tool_result', toolCallId: 'fn_g', content: 'ok' }] });
    expect(req).toMatchObject({ maxTokens: 50, stop: ['END'], toolChoice: { name: 'g' }, stream: true, streamUsage: true });
    expect(req.tools).toEqual([{ name: 'g', description: undefined, parameters: { type: 'object' } }]);
  });
});

describe('Anthropic request validation', () => {
  it.each([
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    [{ model: 'm', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, 'messages.0.role'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages.0.content.0.text'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] }, 'messages.0.content.0.tool_use_id'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], temperature: 1.5 }, 'temperature'],
  ])('%j → 400 naming %s', (body, param) => {
    const err = rejection(() => ant.parseRequest(body));
    expect(err.code).toBe('KEEL_INVALID_REQUEST');
    expect(err.param).toBe(param);
  });

  it('splits a user turn of tool results into tool messages followed by the user text', () => {
    const req = ant.parseRequest({
      model: 'm',
      max_tokens: 10,
      system: [{ type: 'text', text: 'S' }],
      messages: [
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm' }, { type: 'tool_use', id: 't1', name: 'f', input: { q: 1 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'r' }], is_error: true }, { type: 'text', text: 'next' }] },
      ],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      tools: [{ name: 'f', input_schema: { type: 'object' } }, { type: 'web_search_20250305', name: 'web_search' }],
      metadata: { user_id: 'u1' },
    });
    expect(req.system).toBe('S');
    expect(req.messages).toEqual([
      { role: 'assistant', content: [{ type: 'tool_call', id: 't1', name: 'f', arguments: '{"q":1}' }] },
      { role: 'tool', content: [{ type: 'tool_result', toolCallId: 't1', content: 'r', isError: true }] },
      { role: 'user', content: [{ type: 'text', text: 'next' }] },
    ]);
    expect(req).toMatchObject({ toolChoice: 'required', parallelToolCalls: false, user: 'u1', streamUsage: true });
    expect(req.tools?.map((t) => t.name)).toEqual(['f']);
  });
});

describe('building upstream requests', () => {
  it('same format: the caller body with only model and stream_options changed', () => {
    const body = { model: 'route', messages: [{ role: 'user', content: 'x' }], stream: true, logprobs: true, prediction: { type: 'content', content: 'p' }, stream_options: { foo: 1 } };
    const out = oai.buildRequest(oai.parseRequest(body), 'gpt-up', { forceStreamUsage: true });
    expect(out).toEqual({ ...body, model: 'gpt-up', stream_options: { foo: 1, include_usage: true } });
    const aBody = { model: 'r', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }], thinking: { type: 'enabled', budget_tokens: 1024 } };
    expect(ant.buildRequest(ant.parseRequest(aBody), 'claude-up', { forceStreamUsage: true })).toEqual({ ...aBody, model: 'claude-up' });
  });

  it('OpenAI → Anthropic: merges tool results into one user turn, parses arguments, maps choices', () => {
    const req = oai.parseRequest({
      model: 'r',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'calling', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }, { id: 'b', type: 'function', function: { name: 'f', arguments: '' } }] },
        { role: 'tool', tool_call_id: 'a', content: '1' },
        { role: 'tool', tool_call_id: 'b', content: '2' },
        { role: 'user', content: 'and?' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      temperature: 1.7,
      stop: ['X'],
      user: 'u',
    });
    const out = ant.buildRequest(req, 'claude', { forceStreamUsage: true });
    expect(out).toEqual({
      model: 'claude',
      max_tokens: 4096,
      system: 'S',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'q' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'calling' }, { type: 'tool_use', id: 'a', name: 'f', input: { x: 1 } }, { type: 'tool_use', id: 'b', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: '1' }, { type: 'tool_result', tool_use_id: 'b', content: '2' }, { type: 'text', text: 'and?' }] },
      ],
      temperature: 1,
      stop_sequences: ['X'],
      tools: [{ name: 'f', description: undefined, input_schema: { type: 'object' } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'u' },
    });
  });

  it('OpenAI → Anthropic: rejects what Anthropic cannot express', () => {
    const base = { model: 'r', messages: [{ role: 'user', content: 'q' }] };
    expect(rejection(() => ant.buildRequest(oai.parseRequest({ ...base, n: 3 }), 'c', { forceStreamUsage: true })).code).toBe('KEEL_UNSUPPORTED');
    expect(rejection(() => ant.buildRequest(oai.parseRequest({ ...base, response_format: { type: 'json_object' } }), 'c', { forceStreamUsage: true })).param).toBe('response_format');
    const badArgs = oai.parseRequest({ model: 'r', messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] });
    expect(rejection(() => ant.buildRequest(badArgs, 'c', { forceStreamUsage: true })).message).toMatch(/not valid JSON/);
  });

  it('Anthropic → OpenAI: system first, tool results as tool messages, usage requested for streams', () => {
    const req = ant.parseRequest({
      model: 'r',
      max_tokens: 20,
      system: 'S',
      stream: true,
      top_k: 5,
      messages: [
        { role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://x/y.png' } }, { type: 'text', text: 'what?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'r' }] },
      ],
      tool_choice: { type: 'tool', name: 'f' },
    });
    expect(oai.buildRequest(req, 'gpt', { forceStreamUsage: true })).toEqual({
      model: 'gpt',
      messages: [
        { role: 'system', content: 'S' },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }, { type: 'text', text: 'what?' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 't', content: 'r' },
      ],
      max_tokens: 20,
      tool_choice: { type: 'function', function: { name: 'f' } },
      stream: true,
      stream_options: { include_usage: true },
    });
  });
});
