import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex as sha256 } from '../../config/secret.js';
import { cacheKey, textForEmbedding, toolsSignature, type KeyOptions } from '../../gateway/cache/key.js';
import { KeelError } from '../../gateway/errors.js';
import { formats, type ChatRequest, type FormatId } from '../../gateway/formats/index.js';
import { anthropicRequest, callerError, jsonish, key as hostileKey, mutations, onlyKeelErrors, openaiRequest, responsesRequest, text } from '../property/arbitraries.js';

type Body = Record<string, unknown>;

const O: KeyOptions = { route: 'chat', namespace: 'team:a', includeUser: false };
const parse = (format: FormatId, body: unknown): ChatRequest => formats[format].parseRequest(JSON.parse(JSON.stringify(body)));
const keyOf = (format: FormatId, body: unknown, o: KeyOptions = O): string => cacheKey(parse(format, body), o);

/** The same value with every object's keys in another order (arrays keep theirs: order is meaning there). */
function reorder(v: unknown, salt: number): unknown {
  if (Array.isArray(v)) return v.map((x) => reorder(x, salt));
  if (typeof v !== 'object' || v === null) return v;
  const keys = Object.keys(v);
  const turn = keys.length === 0 ? 0 : salt % keys.length;
  const order = [...keys.slice(turn), ...keys.slice(0, turn)].reverse();
  const out: Body = {};
  for (const k of order) Object.defineProperty(out, k, { value: reorder((v as Body)[k], salt + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

const schema = fc.dictionary(hostileKey, jsonish, { maxKeys: 5 });
const withTools = fc.record({
  body: openaiRequest,
  parameters: schema,
  responseFormat: fc.record({ type: fc.constant('json_schema'), json_schema: fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), schema }) }),
});
const transport = fc.record({ stream: fc.boolean(), stream_options: fc.record({ include_usage: fc.boolean() }), user: text, metadata: fc.dictionary(fc.string({ maxLength: 6 }), text), store: fc.boolean() }, { requiredKeys: [] });

describe('sha256', () => {
  it('is what createHash gave for the UTF-8 of any string, lone surrogates included (the previous implementation as oracle)', () => {
    const oracle = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 300 }), fc.string({ maxLength: 3000 })), (t) => {
        expect(sha256(t)).toBe(oracle(t));
      }),
      { numRuns: 2_000 },
    );
    expect(sha256('\ud800x')).toBe(oracle('\ud800x'));
  });
});

describe('cacheKey is stable', () => {
  it('across releases: a fixed request keeps the key it had (KEY_VERSION 1, commit f9d26db)', () => {
    const body = { model: 'm', temperature: 0.2, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi, é ✓ "q"' }], tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { z: { type: 'string' }, a: { type: 'number' } } } } }], stop: ['x'], metadata: { b: 1, a: [2, null] } };
    expect(keyOf('openai-chat', body)).toBe('b0641d2b271af534500aaee0c7bb50c934a63273c33dc486cea688168c392ddd');
  });

  it('under object key order (tools parameters, response_format, the body) and transport fields', () => {
    fc.assert(
      fc.property(withTools, fc.nat(), transport, transport, ({ body, parameters, responseFormat }, salt, t1, t2) => {
        const base: Body = { ...body, tools: [{ type: 'function', function: { name: 'f', parameters } }], response_format: responseFormat };
        const a = { ...base, ...t1 };
        const b = reorder({ ...base, ...t2 }, salt);
        const k = keyOf('openai-chat', a);
        expect(k).toMatch(/^[0-9a-f]{64}$/);
        expect(keyOf('openai-chat', b)).toBe(k);
      }),
      { numRuns: 500 },
    );
  });

  it('under key order and stream / metadata on Anthropic bodies', () => {
    fc.assert(
      fc.property(anthropicRequest, fc.nat(), fc.boolean(), text, (body, salt, stream, userId) => {
        const b = reorder({ ...body, stream, metadata: { user_id: userId } }, salt);
        expect(keyOf('anthropic-messages', b)).toBe(keyOf('anthropic-messages', body));
      }),
      { numRuns: 500 },
    );
  });

  it('across formats: an OpenAI and an Anthropic body for the same canonical request share a key', () => {
    const same = fc.record({
      system: fc.string({ minLength: 1, maxLength: 40 }),
      user: fc.string({ minLength: 1, maxLength: 40 }),
      temperature: fc.double({ min: 0, max: 1, noNaN: true }),
      maxTokens: fc.integer({ min: 1, max: 100_000 }),
      topP: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
      stop: fc.option(fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
      tool: fc.option(fc.record({ name: fc.string({ minLength: 1, maxLength: 8 }), description: fc.string({ maxLength: 20 }), parameters: schema }), { nil: undefined }),
      stream: fc.boolean(),
    });
    fc.assert(
      fc.property(same, (s) => {
        const oai: Body = {
          model: 'chat',
          messages: [{ role: 'system', content: s.system }, { role: 'user', content: s.user }],
          temperature: s.temperature,
          max_tokens: s.maxTokens,
          top_p: s.topP,
          stop: s.stop,
          stream: s.stream,
          stream_options: s.stream ? { include_usage: true } : undefined,
        };
        const ant: Body = { model: 'chat', system: s.system, messages: [{ role: 'user', content: [{ type: 'text', text: s.user, cache_control: { type: 'ephemeral' } }] }], temperature: s.temperature, max_tokens: s.maxTokens, top_p: s.topP, stop_sequences: s.stop, stream: !s.stream };
        if (s.tool !== undefined) {
          oai.tools = [{ type: 'function', function: s.tool }];
          oai.tool_choice = 'auto';
          ant.tools = [{ name: s.tool.name, description: s.tool.description, input_schema: s.tool.parameters }];
          ant.tool_choice = { type: 'auto' };
        }
        expect(keyOf('anthropic-messages', ant)).toBe(keyOf('openai-chat', oai));
      }),
      { numRuns: 500 },
    );
  });

  it('ignores unmodelled fields set to null (both APIs read null as unset) and prompt-cache marks', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const k = keyOf('openai-chat', body);
    expect(keyOf('openai-chat', { ...body, presence_penalty: null, messages: [{ role: 'user', content: 'hi', name: null }] })).toBe(k);
    const ant = { model: 'm', max_tokens: 5, system: [{ type: 'text', text: 's', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: 'hi' }] };
    expect(keyOf('anthropic-messages', ant)).toBe(keyOf('anthropic-messages', { ...ant, system: 's' }));
  });

  it('spellings of one request: n absent is 1, stop as a string is a one-item list, parallel calls true is the default', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }], stop: ['x'], tools: [{ type: 'function', function: { name: 'f' } }] };
    const k = keyOf('openai-chat', body);
    expect(keyOf('openai-chat', { ...body, n: 1 })).toBe(k);
    expect(keyOf('openai-chat', { ...body, stop: 'x' })).toBe(k);
    expect(keyOf('openai-chat', { ...body, parallel_tool_calls: true })).toBe(k);
    expect(keyOf('openai-chat', { ...body, parallel_tool_calls: false })).not.toBe(k);
  });
});

/** Changes that must give another key, each from a base with every field set. */
const BASE: Body = {
  model: 'chat',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'what is in this picture?' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }] },
  ],
  temperature: 0.5,
  top_p: 0.9,
  n: 2,
  seed: 7,
  stop: ['END'],
  max_tokens: 100,
  tools: [{ type: 'function', function: { name: 'look', description: 'look closer', parameters: { type: 'object', properties: { zoom: { type: 'number' } } } } }],
  tool_choice: 'auto',
  parallel_tool_calls: false,
  response_format: { type: 'json_object' },
  user: 'u1',
};
const msg = (content: unknown) => [{ role: 'system', content: 'be brief' }, { role: 'user', content }];
const CHANGES: Record<string, (b: Body) => Body> = {
  'message text': (b) => ({ ...b, messages: msg([{ type: 'text', text: 'what is in this photo?' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }]) }),
  'message text, image dropped': (b) => ({ ...b, messages: msg('what is in this picture?') }),
  'image source': (b) => ({ ...b, messages: msg([{ type: 'text', text: 'what is in this picture?' }, { type: 'image_url', image_url: { url: 'https://x.test/b.png' } }]) }),
  'system prompt': (b) => ({ ...b, messages: [{ role: 'system', content: 'be long' }, ...(b.messages as unknown[]).slice(1)] }),
  'system after the user turn': (b) => ({ ...b, messages: [...(b.messages as unknown[]).slice(1), { role: 'system', content: 'be brief' }] }),
  'developer instead of system': (b) => ({ ...b, messages: [{ role: 'developer', content: 'be brief' }, ...(b.messages as unknown[]).slice(1)] }),
  temperature: (b) => ({ ...b, temperature: 0.6 }),
  'temperature absent': (b) => ({ ...b, temperature: undefined }),
  top_p: (b) => ({ ...b, top_p: 0.8 }),
  n: (b) => ({ ...b, n: 1 }),
  seed: (b) => ({ ...b, seed: 8 }),
  stop: (b) => ({ ...b, stop: ['STOP'] }),
  max_tokens: (b) => ({ ...b, max_tokens: 101 }),
  'tool name': (b) => ({ ...b, tools: [{ type: 'function', function: { name: 'peek', description: 'look closer', parameters: {} } }] }),
  'tool parameters': (b) => ({ ...b, tools: [{ type: 'function', function: { name: 'look', description: 'look closer', parameters: { type: 'object', properties: { zoom: { type: 'integer' } } } } }] }),
  'tool description': (b) => ({ ...b, tools: [{ type: 'function', function: { name: 'look', parameters: { type: 'object', properties: { zoom: { type: 'number' } } } } }] }),
  'tool strict (unmodelled)': (b) => ({ ...b, tools: [{ type: 'function', function: { ...(b.tools as { function: Body }[])[0]?.function, strict: true } }] }),
  'no tools': (b) => ({ ...b, tools: undefined, tool_choice: undefined, parallel_tool_calls: undefined }),
  tool_choice: (b) => ({ ...b, tool_choice: 'required' }),
  'tool_choice a function': (b) => ({ ...b, tool_choice: { type: 'function', function: { name: 'look' } } }),
  'parallel tool calls': (b) => ({ ...b, parallel_tool_calls: undefined }),
  response_format: (b) => ({ ...b, response_format: { type: 'text' } }),
  presence_penalty: (b) => ({ ...b, presence_penalty: 0.5 }),
  frequency_penalty: (b) => ({ ...b, frequency_penalty: 0.5 }),
  logit_bias: (b) => ({ ...b, logit_bias: { '50256': -100 } }),
  logprobs: (b) => ({ ...b, logprobs: true }),
  reasoning_effort: (b) => ({ ...b, reasoning_effort: 'high' }),
  'image detail (unmodelled)': (b) => ({ ...b, messages: msg([{ type: 'text', text: 'what is in this picture?' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail: 'high' } }]) }),
  'an audio part (dropped by the parser)': (b) => ({ ...b, messages: msg([{ type: 'text', text: 'what is in this picture?' }, { type: 'image_url', image_url: { url: 'https://x.test/a.png' } }, { type: 'input_audio', input_audio: { data: 'AA==' } }]) }),
  'a participant name': (b) => ({ ...b, messages: [{ role: 'system', content: 'be brief' }, { ...(b.messages as Body[])[1], name: 'ann' }] }),
};

describe('cacheKey changes', () => {
  const base = keyOf('openai-chat', BASE);
  it.each(Object.keys(CHANGES))('with %s', (name) => {
    const change = CHANGES[name];
    if (change === undefined) throw new Error(name);
    expect(keyOf('openai-chat', change(BASE))).not.toBe(base);
  });

  it('with the route or the namespace', () => {
    expect(keyOf('openai-chat', BASE, { ...O, route: 'chat-2' })).not.toBe(base);
    expect(keyOf('openai-chat', BASE, { ...O, namespace: 'team:b' })).not.toBe(base);
    expect(keyOf('openai-chat', BASE, { ...O, namespace: 'shared' })).not.toBe(keyOf('openai-chat', BASE, { ...O, namespace: 'team:b' }));
  });

  it('with the user only when the route keys on it', () => {
    expect(keyOf('openai-chat', { ...BASE, user: 'u2' })).toBe(base);
    const withUser = { ...O, includeUser: true };
    expect(keyOf('openai-chat', { ...BASE, user: 'u2' }, withUser)).not.toBe(keyOf('openai-chat', BASE, withUser));
  });

  it('with any unmodelled top-level field and value (generated)', () => {
    const reserved = new Set(['model', 'messages', 'stream', 'stream_options', 'user', 'metadata', 'store', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'n', 'seed', 'tools', 'functions', 'tool_choice', 'function_call', 'parallel_tool_calls', 'response_format', 'cache_control']);
    const field = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !reserved.has(k) && k !== '__proto__');
    // What a body can hold after JSON (Infinity is null there); null itself means unset.
    const value = jsonish.map((v) => JSON.stringify(v)).filter((t): t is string => t !== undefined && t !== 'null').map((t) => JSON.parse(t) as unknown);
    fc.assert(
      fc.property(field, value, (k, v) => {
        const body: Body = { ...BASE };
        Object.defineProperty(body, k, { value: v, enumerable: true, writable: true, configurable: true });
        expect(keyOf('openai-chat', body)).not.toBe(base);
      }),
      { numRuns: 300 },
    );
  });

  it('for Anthropic: thinking, top_k, a document block, a server tool', () => {
    const ant: Body = { model: 'chat', max_tokens: 100, messages: [{ role: 'user', content: 'summarise' }], tools: [{ name: 'f', input_schema: { type: 'object' } }] };
    const k = keyOf('anthropic-messages', ant);
    const variants: Body[] = [
      { ...ant, thinking: { type: 'enabled', budget_tokens: 1024 } },
      { ...ant, top_k: 5 },
      { ...ant, messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'a' } }, { type: 'text', text: 'summarise' }] }] },
      { ...ant, tools: [...(ant.tools as unknown[]), { type: 'web_search_20250305', name: 'web_search' }] },
      { ...ant, messages: [{ role: 'user', content: [{ type: 'text', text: 'summarise', citations: [{ type: 'char_location' }] }] }] },
    ];
    for (const v of variants) expect(keyOf('anthropic-messages', v), JSON.stringify(v)).not.toBe(k);
  });

  it('across formats when either carries an unmodelled field, even the same one', () => {
    const oai = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
    const ant = { model: 'chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 };
    expect(keyOf('openai-chat', oai)).toBe(keyOf('anthropic-messages', ant));
    expect(keyOf('openai-chat', { ...oai, presence_penalty: 1 })).not.toBe(keyOf('anthropic-messages', ant));
    // Translated to the other format the field is dropped; same-format it reaches the model.
    const thinking = { type: 'enabled', budget_tokens: 1024 };
    expect(keyOf('openai-chat', { ...oai, thinking })).not.toBe(keyOf('anthropic-messages', { ...ant, thinking }));
  });
});

describe('cacheKey for Responses API bodies', () => {
  const chat: Body = { model: 'chat', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }], max_tokens: 5, temperature: 0.5 };
  const resp: Body = { model: 'chat', instructions: 'be brief', input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], max_output_tokens: 5, temperature: 0.5 };

  it('shares a key with the Chat Completions twin, whatever the spelling of the input or the transport fields', () => {
    const k = keyOf('openai-chat', chat);
    expect(keyOf('openai-responses', resp)).toBe(k);
    expect(keyOf('openai-responses', { ...resp, input: [{ type: 'message', role: 'user', content: 'hi' }], stream: true, store: true, metadata: { a: 'b' } })).toBe(k);
    expect(keyOf('openai-responses', { ...resp, instructions: undefined, input: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] })).toBe(k);
  });

  it('changes with what only a Responses target reads: stored state, reasoning, hosted tools, a tool’s strict, an odd system layout', () => {
    const k = keyOf('openai-responses', resp);
    const tool = { type: 'function', name: 'f', parameters: { type: 'object' } };
    expect(keyOf('openai-responses', { ...resp, tools: [tool] })).not.toBe(k);
    const variants: Body[] = [
      { ...resp, previous_response_id: 'resp_1' },
      { ...resp, reasoning: { effort: 'high' } },
      { ...resp, truncation: 'auto' },
      { ...resp, tools: [{ type: 'web_search' }] },
      { ...resp, tools: [{ ...tool, strict: true }] },
      { ...resp, input: [...(resp.input as unknown[]), { type: 'reasoning', id: 'rs_1', summary: [] }] },
      { ...resp, instructions: undefined, input: [{ role: 'user', content: 'hi' }, { role: 'system', content: 'be brief' }] },
    ];
    const withTool = keyOf('openai-responses', { ...resp, tools: [tool] });
    for (const v of variants) {
      const kv = keyOf('openai-responses', v);
      expect(kv, JSON.stringify(v)).not.toBe(k);
      expect(kv, JSON.stringify(v)).not.toBe(withTool);
    }
  });
});

describe('cacheKey never throws', () => {
  const valid: Record<FormatId, fc.Arbitrary<Body>> = { 'openai-chat': openaiRequest, 'anthropic-messages': anthropicRequest, 'openai-responses': responsesRequest };
  it.each(Object.keys(valid) as FormatId[])('for any request %s parses, hostile ones included', (id) => {
    fc.assert(
      fc.property(fc.oneof(valid[id], mutations(valid[id])), fc.boolean(), (body, includeUser) => {
        const req = onlyKeelErrors(() => formats[id].parseRequest(body), callerError);
        if (req instanceof KeelError) return;
        expect(cacheKey(req, { ...O, includeUser })).toMatch(/^[0-9a-f]{64}$/);
        expect(toolsSignature(req)).toMatch(/^[0-9a-f]{64}$/);
        expect(typeof textForEmbedding(req, 3)).toBe('string');
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('semantic-cache helpers', () => {
  const req = parse('openai-chat', {
    model: 'm',
    messages: [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'second' },
      { role: 'user', content: 'third' },
    ],
  });

  it('textForEmbedding: the system prompt and the last N messages', () => {
    expect(textForEmbedding(req, 2)).toBe('system: sys\nassistant: second\nuser: third');
    expect(textForEmbedding(req, 0)).toBe('system: sys');
    expect(textForEmbedding(req, Infinity)).toBe('system: sys\nuser: first\nassistant: second\nuser: third');
    expect(textForEmbedding({ ...req, system: undefined }, 1)).toBe('user: third');
  });

  it('toolsSignature: equal when only the wording differs, different for tools, format, n, images', () => {
    const sig = (b: Body) => toolsSignature(parse('openai-chat', b));
    const s = sig(BASE);
    expect(sig(CHANGES['message text']?.(BASE) ?? {})).toBe(s);
    expect(sig(CHANGES['system prompt']?.(BASE) ?? {})).toBe(s);
    for (const name of ['message text, image dropped', 'tool name', 'tool parameters', 'tool strict (unmodelled)', 'no tools', 'tool_choice', 'response_format', 'n', 'temperature', 'image source', 'presence_penalty']) {
      expect(sig(CHANGES[name]?.(BASE) ?? {}), name).not.toBe(s);
    }
  });
});
