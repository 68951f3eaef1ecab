import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import type { ResponseInputItem } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { textTokens } from '../../simulator/answer.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * The Responses API surface (POST /v1/responses) through the official openai client, against
 * routes whose target speaks each of the three formats: Chat Completions, Anthropic Messages and
 * the Responses API itself (simulated), plus failover and stream continuation across formats.
 */
const fast = {
  timeouts: { connect_ms: 500, headers_ms: 500, ttft_ms: 1000, idle_ms: 300, total_ms: 5000 },
  retries: { attempts: 0 },
};
const TARGETS = { chat: 'r-chat', anthropic: 'r-ant', responses: 'r-resp' } as const;
const weather = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

describe('openai SDK responses.* → Keel', () => {
  let h: Harness;
  let client: OpenAI;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: {
        'down-resp': { fault: 'server_error' },
        'down-chat': { fault: 'server_error' },
        'cut-resp': { fault: 'cut', after_tokens: 4, itl_ms: 2 },
        'cut-chat': { fault: 'cut', after_tokens: 4, itl_ms: 2 },
      },
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k-oai' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k-ant' },
          resp: { type: 'openai-responses', base_url: `${url}/v1`, api_key: 'k-resp' },
        },
        routes: {
          'r-chat': { targets: [{ provider: 'oai', model: 'chat-up' }], ...fast },
          'r-ant': { targets: [{ provider: 'ant', model: 'ant-up' }], ...fast },
          'r-resp': { targets: [{ provider: 'resp', model: 'resp-up' }], ...fast },
          'r-resp-down': { targets: [{ provider: 'resp', model: 'down-resp' }], fallbacks: [{ provider: 'ant', model: 'ant-fallback' }], ...fast },
          'r-chat-down': { targets: [{ provider: 'oai', model: 'down-chat' }], fallbacks: [{ provider: 'resp', model: 'resp-fallback' }], ...fast },
          'r-resp-cut': { targets: [{ provider: 'resp', model: 'cut-resp' }], fallbacks: [{ provider: 'ant', model: 'cont-resp' }], ...fast },
          'r-chat-cut': { targets: [{ provider: 'oai', model: 'cut-chat' }], fallbacks: [{ provider: 'ant', model: 'cont-chat' }], ...fast },
          'r-cached': { targets: [{ provider: 'ant', model: 'cache-up' }], cache: { ttl_s: 60 }, ...fast },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'caller', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.sim.clearAttempts();
    h.records.length = 0;
  });

  const prompt = 'What is Keel?';
  const expected = textTokens(prompt, 12, undefined).join('');

  describe.each(Object.entries(TARGETS))('to a %s target', (_kind, model) => {
    it('create(): the answer, its usage and a completed status', async () => {
      const res = await client.responses.create({ model, input: prompt, instructions: 'Be brief.' });
      expect(res.object).toBe('response');
      expect(res.id).toMatch(/^resp_/);
      expect(res.status).toBe('completed');
      expect(res.output_text).toBe(expected);
      expect(res.output[0]?.type).toBe('message');
      expect(res.usage?.output_tokens).toBe(12);
      expect(res.usage?.input_tokens).toBeGreaterThan(0);
      expect(res.usage?.total_tokens).toBe((res.usage?.input_tokens ?? 0) + 12);
    });

    it('stream(): events accumulate to the same answer; finalResponse has usage', async () => {
      const stream = client.responses.stream({ model, input: prompt });
      let deltas = '';
      stream.on('response.output_text.delta', (e) => {
        deltas += e.delta;
      });
      const final = await stream.finalResponse();
      expect(deltas).toBe(expected);
      expect(final.output_text).toBe(expected);
      expect(final.status).toBe('completed');
      expect(final.usage?.output_tokens).toBe(12);
    });

    it('create({ stream: true }): ordered sequence numbers, one created, one completed at the end', async () => {
      const stream = await client.responses.create({ model, input: prompt, stream: true });
      const types: string[] = [];
      const seqs: number[] = [];
      let text = '';
      for await (const ev of stream) {
        types.push(ev.type);
        seqs.push(ev.sequence_number);
        if (ev.type === 'response.output_text.delta') text += ev.delta;
      }
      expect(text).toBe(expected);
      expect(types[0]).toBe('response.created');
      expect(types[types.length - 1]).toBe('response.completed');
      expect(types.filter((t) => t === 'response.completed')).toHaveLength(1);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('a function-calling round trip: the call out, its output back in, the final text', async () => {
      const first = await client.responses.create({ model, input: 'Weather in Paris?', tools: [weather] });
      const call = first.output.find((o) => o.type === 'function_call');
      expect(call?.type).toBe('function_call');
      if (call?.type !== 'function_call') return;
      expect(call.name).toBe('get_weather');
      expect(JSON.parse(call.arguments)).toEqual({ city: 'sim' });
      const input: ResponseInputItem[] = [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp": 21}' },
      ];
      const stream = client.responses.stream({ model, input, tools: [weather], tool_choice: 'none' });
      const final = await stream.finalResponse();
      expect(final.output_text.length).toBeGreaterThan(0);
      const sent = JSON.stringify(h.sim.attempts().at(-1)?.body);
      expect(sent).toContain(call.call_id);
      expect(sent).toContain('{\\"temp\\": 21}');
    });

    it('a streamed function call accumulates to whole arguments', async () => {
      const final = await client.responses.stream({ model, input: 'Weather?', tools: [weather] }).finalResponse();
      const call = final.output.find((o) => o.type === 'function_call');
      expect(call?.type === 'function_call' ? JSON.parse(call.arguments) : undefined).toEqual({ city: 'sim' });
    });
  });

  it('text.format json_schema reaches each target in its own terms', async () => {
    const format = { type: 'json_schema' as const, name: 'answer', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true };
    await client.responses.create({ model: 'r-resp', input: prompt, text: { format } });
    expect((h.sim.attemptsFor('resp-up')[0]?.body as { text?: unknown }).text).toEqual({ format });
    await client.responses.create({ model: 'r-chat', input: prompt, text: { format } });
    expect((h.sim.attemptsFor('chat-up')[0]?.body as { response_format?: unknown }).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'answer', schema: format.schema, strict: true },
    });
    // Anthropic has no structured output: a clear 400, not an answer that ignores the schema.
    await expect(client.responses.create({ model: 'r-ant', input: prompt, text: { format } })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    expect(h.sim.attemptsFor('ant-up')).toHaveLength(0);
  });

  it('errors in the shape the SDK raises: unknown model 404, bad input 400', async () => {
    const unknown = await client.responses.create({ model: 'no-such-route', input: 'x' }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    const bad = await client.responses.create({ model: 'r-chat', input: [{ type: 'function_call_output', output: 'x' }] } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input.0.call_id');
    const hosted = await client.responses.create({ model: 'r-ant', input: 'x', tools: [{ type: 'web_search' }] }).catch((e: unknown) => e);
    expect(hosted).toBeInstanceOf(OpenAI.BadRequestError);
    expect((hosted as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('tools.0.type');
    expect(h.sim.attempts()).toHaveLength(0);
  });

  it('previous_response_id: a 400 saying Keel is stateless to a chat target; passed through to a Responses target', async () => {
    const err = await client.responses.create({ model: 'r-chat', input: 'and then?', previous_response_id: 'resp_abc' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/stateless/);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id');
    expect(h.sim.attemptsFor('chat-up')).toHaveLength(0);
    // The simulated Responses API stores nothing, so it does not know the id: but it was asked.
    const native = await client.responses.create({ model: 'r-resp', input: 'and then?', previous_response_id: 'resp_abc' }).catch((e: unknown) => e);
    expect(native).toBeInstanceOf(OpenAI.BadRequestError);
    expect((native as Error).message).toContain("Previous response with id 'resp_abc' not found");
    const sent = h.sim.attempts().at(-1);
    expect(sent?.path).toBe('/v1/responses');
    expect((sent?.body as { model?: unknown; previous_response_id?: unknown }).model).toBe('resp-up');
    expect((sent?.body as { previous_response_id?: unknown }).previous_response_id).toBe('resp_abc');
  });

  it('previous_response_id on a route whose Responses target fails: other formats are not tried, the provider failure is returned', async () => {
    h.sim.clearAttempts();
    const err = await client.responses.create({ model: 'r-resp-down', input: 'and then?', previous_response_id: 'resp_abc' }).catch((e: unknown) => e);
    // The provider's failure (a 5xx after retries), not a 400 from a fallback that cannot carry the id.
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(h.sim.attemptsFor('ant-fallback')).toHaveLength(0);
    expect(h.sim.attemptsFor('down-resp').length).toBeGreaterThan(0);
  });

  it.each([false, true])('fails over from a failing target to one of another format (stream: %s)', async (streaming) => {
    for (const [route, fallback] of [
      ['r-resp-down', 'ant-fallback'],
      ['r-chat-down', 'resp-fallback'],
    ] as const) {
      const res = streaming ? await client.responses.stream({ model: route, input: prompt }).finalResponse() : await client.responses.create({ model: route, input: prompt });
      expect(res.output_text).toBe(expected);
      expect(res.usage?.output_tokens).toBe(12);
      expect(h.sim.attemptsFor(fallback)).toHaveLength(1);
    }
    expect(h.sim.attemptsFor('down-resp')[0]?.outcome).toBe('server_error');
    expect(h.sim.attemptsFor('down-chat')[0]?.outcome).toBe('server_error');
  });

  it.each(['r-resp-cut', 'r-chat-cut'])('a stream cut after 4 tokens on %s, continued on Anthropic (prefill), reads as one answer', async (route) => {
    const stream = client.responses.stream({ model: route, input: prompt });
    let deltas = '';
    const added: string[] = [];
    stream.on('response.output_text.delta', (e) => {
      deltas += e.delta;
    });
    stream.on('response.output_item.added', (e) => added.push(e.item.type));
    const final = await stream.finalResponse();
    expect(deltas).toBe(expected);
    expect(final.output_text).toBe(expected);
    expect(final.output).toHaveLength(1);
    expect(added).toEqual(['message']);
    const rec = await eventually(() => h.records.find((r) => r.route === route));
    expect(rec.continued).toBe(true);
    expect(rec.ingressFormat).toBe('openai-responses');
    const cont = h.sim.attempts().at(-1);
    expect(cont?.api).toBe('anthropic-messages');
  });

  it('a cache hit is rendered as a Responses answer, streaming and not', async () => {
    const input = 'cache me, Keel';
    const miss = await client.responses.create({ model: 'r-cached', input });
    const { data: hit, response } = await client.responses.create({ model: 'r-cached', input }).withResponse();
    expect(response.headers.get('x-keel-cache')).toBe('exact');
    expect(hit.output_text).toBe(miss.output_text);
    expect(hit.usage?.output_tokens).toBe(miss.usage?.output_tokens);
    const streamed = await client.responses.stream({ model: 'r-cached', input }).finalResponse();
    expect(streamed.output_text).toBe(miss.output_text);
    expect(h.sim.attemptsFor('cache-up')).toHaveLength(1);
  });

  it('Chat Completions and Anthropic callers reach a Responses API target: text, tools, usage, streaming', async () => {
    const chat = await client.chat.completions.create({ model: 'r-resp', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: prompt }], max_tokens: 50 });
    expect(chat.choices[0]?.message.content).toBe(expected);
    expect(chat.usage?.completion_tokens).toBe(12);
    const sent = h.sim.attemptsFor('resp-up')[0];
    expect(sent?.path).toBe('/v1/responses');
    expect(sent?.body).toMatchObject({ model: 'resp-up', instructions: 'Be brief.', input: [{ type: 'message', role: 'user', content: prompt }], max_output_tokens: 50, store: false });
    let text = '';
    let usage: number | undefined;
    for await (const c of await client.chat.completions.create({ model: 'r-resp', messages: [{ role: 'user', content: prompt }], stream: true, stream_options: { include_usage: true } })) {
      text += c.choices[0]?.delta.content ?? '';
      usage ??= c.usage?.completion_tokens;
    }
    expect(text).toBe(expected);
    expect(usage).toBe(12);
    const ant = new Anthropic({ baseURL: h.url, apiKey: 'caller', maxRetries: 0 });
    const tools = [{ name: 'get_weather', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } } } }];
    const msg = await ant.messages.stream({ model: 'r-resp', max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }], tools }).finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'sim' } });
    const plain = await ant.messages.create({ model: 'r-resp', max_tokens: 100, messages: [{ role: 'user', content: prompt }] });
    expect(plain.content[0]).toMatchObject({ type: 'text', text: expected });
    expect(plain.usage.output_tokens).toBe(12);
  });

  it('a Responses stream ends in an APIError the SDK raises when the provider fails mid-answer with no fallback', async () => {
    h.sim.setBehaviour('resp-up', { fault: 'cut', after_tokens: 3, itl_ms: 2 });
    try {
      const err = await client.responses
        .stream({ model: 'r-resp', input: prompt })
        .finalResponse()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as Error).message).toMatch(/mid-stream|stream/i);
    } finally {
      h.sim.setBehaviour('resp-up', {});
    }
  });
});
