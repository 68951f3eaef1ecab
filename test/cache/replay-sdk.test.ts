import Anthropic from '@anthropic-ai/sdk';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryToSse } from '../../gateway/cache/replay.js';
import { formats, type ChatResponse, type FormatId } from '../../gateway/formats/index.js';

/**
 * A cached answer replayed to the official SDKs' stream helpers: a bare server answers with
 * entryToSse's chunks for the request the SDK sent, and what the SDK rebuilds must be the entry.
 */

const ARGS = '{"city":"Paris","days":[1,2],"note":"ünïcødé 😀 and \\"quotes\\""}';
const TEXT = 'Hello from the cache: a text long enough to go out in several pieces 😀, emoji included.';

/** The cache entries, picked by the request's model so one server serves every case. */
const entries: Record<string, ChatResponse> = {
  text: { id: 'chatcmpl-c1', model: 'gpt-up', created: 1_700_000_000, choices: [{ index: 0, content: [{ type: 'text', text: TEXT }], finishReason: 'stop' }], usage: { inputTokens: 42, outputTokens: 17, cacheReadTokens: 10 } },
  tool: {
    id: 'chatcmpl-c2',
    model: 'gpt-up',
    created: 1_700_000_001,
    choices: [{ index: 0, content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_call', id: 'call_1', name: 'get_weather', arguments: ARGS }, { type: 'tool_call', id: 'call_2', name: 'get_time', arguments: '{"tz":"CET"}' }], finishReason: 'tool_calls' }],
    usage: { inputTokens: 30, outputTokens: 25 },
  },
  n2: {
    id: 'chatcmpl-c3',
    model: 'gpt-up',
    created: 1_700_000_002,
    choices: [
      { index: 0, content: [{ type: 'text', text: TEXT }], finishReason: 'stop' },
      { index: 1, content: [{ type: 'text', text: 'A second, shorter choice that was cut' }], finishReason: 'length' },
    ],
    usage: { inputTokens: 12, outputTokens: 40 },
  },
};

const PATHS: Record<string, FormatId> = { '/v1/chat/completions': 'openai-chat', '/v1/messages': 'anthropic-messages' };

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let raw = '';
  for await (const chunk of req) raw += String(chunk);
  const id = PATHS[req.url ?? ''];
  const body: unknown = JSON.parse(raw);
  const model = (body as { model?: unknown }).model;
  const entry = typeof model === 'string' ? entries[model] : undefined;
  if (req.method !== 'POST' || id === undefined || entry === undefined) {
    res.writeHead(404).end();
    return;
  }
  const format = formats[id];
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  // One write per chunk, as the cache stage will do: the SDKs must cope with events split across reads.
  for (const sse of entryToSse(format, format.parseRequest(body), entry, { pieceChars: 8 })) res.write(sse);
  res.end();
}

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => void answer(req, res).catch(() => res.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const messages = [{ role: 'user' as const, content: 'hi' }];
const entry = (name: string): ChatResponse => entries[name] ?? expect.fail(`no entry ${name}`);

describe('openai SDK', () => {
  const client = () => new OpenAI({ baseURL: `${base}/v1`, apiKey: 'x', maxRetries: 0 });

  it.each([
    ['text', true],
    ['text', false],
    ['tool', true],
    ['n2', true],
    ['n2', false],
  ])('stream helper rebuilds entry %s (include_usage %s)', async (name, usage) => {
    const stream = client().chat.completions.stream({ model: name, messages, ...(name === 'n2' ? { n: 2 } : {}), ...(usage ? { stream_options: { include_usage: true } } : {}) });
    const final = await stream.finalChatCompletion();
    const got = formats['openai-chat'].parseResponse(JSON.parse(JSON.stringify(final)));
    const want = entry(name);
    expect(got.choices).toEqual(want.choices);
    expect({ id: got.id, model: got.model, created: got.created }).toEqual({ id: want.id, model: want.model, created: want.created });
    expect(final.usage ?? undefined).toEqual(usage ? { prompt_tokens: want.usage.inputTokens, completion_tokens: want.usage.outputTokens, total_tokens: want.usage.inputTokens + want.usage.outputTokens, ...(want.usage.cacheReadTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: want.usage.cacheReadTokens } }) } : undefined);
  });

  it.each([true, false])('raw chunks: role first, content and tool-call deltas in pieces, finish, usage chunk only when asked (%s)', async (usage) => {
    const stream = await client().chat.completions.create({ model: 'tool', messages, stream: true, ...(usage ? { stream_options: { include_usage: true } } : {}) });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const deltas = chunks.flatMap((c) => c.choices.map((ch) => ch.delta));
    expect(deltas[0]?.role).toBe('assistant');
    expect(deltas.filter((d) => d.role !== undefined)).toHaveLength(1);
    const contents = deltas.flatMap((d) => (d.content ? [d.content] : []));
    expect(contents.length).toBeGreaterThan(1);
    expect(contents.join('')).toBe('Let me look.');
    const calls = deltas.flatMap((d) => d.tool_calls ?? []);
    const heads = calls.filter((t) => t.id !== undefined);
    expect(heads.map((t) => [t.index, t.id, t.function?.name])).toEqual([[0, 'call_1', 'get_weather'], [1, 'call_2', 'get_time']]);
    const args0 = calls.filter((t) => t.index === 0 && t.id === undefined).map((t) => t.function?.arguments ?? '');
    expect(args0.length).toBeGreaterThan(1);
    expect(args0.join('')).toBe(ARGS);
    const finishes = chunks.flatMap((c) => c.choices.flatMap((ch) => (ch.finish_reason ? [ch.finish_reason] : [])));
    expect(finishes).toEqual(['tool_calls']);
    const usageChunks = chunks.filter((c) => c.usage);
    if (usage) {
      expect(usageChunks).toHaveLength(1);
      expect(chunks.at(-1)?.choices).toEqual([]);
      expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 25 });
    } else {
      expect(usageChunks).toHaveLength(0);
    }
  });
});

describe('@anthropic-ai/sdk', () => {
  const client = () => new Anthropic({ baseURL: base, apiKey: 'x', maxRetries: 0 });

  it.each(['text', 'tool', 'n2'])('messages.stream rebuilds entry %s (choice 0)', async (name) => {
    const stream = client().messages.stream({ model: name, max_tokens: 64, messages });
    let textEvents = 0;
    stream.on('text', () => textEvents++);
    const final = await stream.finalMessage();
    const want = entry(name);
    const got = formats['anthropic-messages'].parseResponse(JSON.parse(JSON.stringify(final)));
    expect(got.choices).toEqual(want.choices.slice(0, 1));
    expect(got.usage).toEqual(want.usage);
    expect(final.id).toBe(`msg_${want.id}`);
    expect(final.model).toBe(want.model);
    expect(textEvents).toBeGreaterThan(1);
  });

  it('gives the tool_use block its parsed input and the stop reason', async () => {
    const final = await client().messages.stream({ model: 'tool', max_tokens: 64, messages }).finalMessage();
    expect(final.content.map((b) => b.type)).toEqual(['text', 'tool_use', 'tool_use']);
    expect(final.content[1]).toMatchObject({ type: 'tool_use', id: 'call_1', name: 'get_weather', input: JSON.parse(ARGS) as unknown });
    expect(final.stop_reason).toBe('tool_use');
    expect(final.usage).toMatchObject({ input_tokens: 30, output_tokens: 25 });
  });

  it('reports cached input apart from uncached, as Anthropic does', async () => {
    const final = await client().messages.stream({ model: 'text', max_tokens: 64, messages }).finalMessage();
    expect(final.usage).toMatchObject({ input_tokens: 32, cache_read_input_tokens: 10, output_tokens: 17 });
    expect(final.stop_reason).toBe('end_turn');
  });
});
