import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { toolArguments } from '../../simulator/answer.js';

describe('simulator wire formats', () => {
  let sim: Simulator;
  let oai: OpenAI;
  let ant: Anthropic;
  beforeAll(async () => {
    sim = await startSimulator({ behaviours: { m: { tokens: 5 }, long: { tokens: 50 } } });
    oai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 0 });
    ant = new Anthropic({ baseURL: sim.url, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => sim.close());
  const messages = [{ role: 'user' as const, content: 'hello there' }];

  it('OpenAI: deterministic text; the stream concatenates to the same text; usage only when asked', async () => {
    const a = await oai.chat.completions.create({ model: 'm', messages });
    const b = await oai.chat.completions.create({ model: 'm', messages });
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.usage).toMatchObject({ completion_tokens: 5, prompt_tokens: 3 });
    let text = '';
    let usageChunks = 0;
    for await (const c of await oai.chat.completions.create({ model: 'm', messages, stream: true })) {
      text += c.choices[0]?.delta.content ?? '';
      if (c.usage) usageChunks++;
    }
    expect(text).toBe(a.choices[0]?.message.content);
    expect(usageChunks).toBe(0);
    const withUsage = await oai.chat.completions.create({ model: 'm', messages, stream: true, stream_options: { include_usage: true } });
    let last: OpenAI.ChatCompletionChunk | undefined;
    for await (const c of withUsage) last = c;
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBe(5);
  });

  it('OpenAI: n choices and max_tokens truncation', async () => {
    const r = await oai.chat.completions.create({ model: 'm', messages, n: 2, max_tokens: 3 });
    expect(r.choices).toHaveLength(2);
    expect(r.choices[0]?.finish_reason).toBe('length');
    expect(r.choices[0]?.message.content?.split(' ')).toHaveLength(3);
  });

  it('Anthropic: message and stream agree; usage in message_start and message_delta', async () => {
    const full = await ant.messages.create({ model: 'm', max_tokens: 100, messages });
    const streamed = await ant.messages.stream({ model: 'm', max_tokens: 100, messages }).finalMessage();
    expect(streamed.content).toEqual(full.content);
    expect(full.usage).toMatchObject({ input_tokens: 3, output_tokens: 5 });
    expect(streamed.usage.output_tokens).toBe(5);
  });

  it('tool calls in both APIs, streamed in fragments', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'boolean' }, c: { type: 'array' } } } } }];
    const r = await oai.chat.completions.stream({ model: 'm', messages, tools }).finalChatCompletion();
    const call = r.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ a: 'sim', b: true, c: [] });
    const msg = await ant.messages.stream({ model: 'm', max_tokens: 10, messages, tools: [{ name: 'g', input_schema: { type: 'object', properties: { n: { type: 'integer' } } } }] }).finalMessage();
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'tool_use', name: 'g', input: { n: 1 } });
  });

  it('embeddings: unit vectors, base64 (the SDK default) equals float', async () => {
    const viaSdk = await oai.embeddings.create({ model: 'e', input: ['x', 'y'] });
    const floats = await oai.embeddings.create({ model: 'e', input: 'x', encoding_format: 'float', dimensions: 16 });
    expect(viaSdk.data).toHaveLength(2);
    expect(viaSdk.data[0]?.embedding.map((v) => v.toFixed(5))).toEqual(floats.data[0]?.embedding.map((v) => v.toFixed(5)));
    expect(Math.hypot(...(floats.data[0]?.embedding ?? []))).toBeCloseTo(1, 5);
  });

  it('bad JSON and unknown paths get errors in the API format', async () => {
    const bad = await request(`${sim.url}/v1/messages`, { method: 'POST', body: '{x' });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { type: string }).type).toBe('error');
    const missing = await request(`${sim.url}/v1/nope`, { method: 'POST', body: '{}' });
    expect(missing.statusCode).toBe(404);
  });
});

describe('simulator faults', () => {
  let sim: Simulator;
  let oai: OpenAI;
  let ant: Anthropic;
  beforeAll(async () => {
    sim = await startSimulator();
    oai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 2000 });
    ant = new Anthropic({ baseURL: sim.url, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => sim.close());
  const ask = (model: string) =>
    oai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }).then(
      () => {
        throw new Error(`${model} was expected to fail`);
      },
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
  const post = (model: string) =>
    request(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) });
  const raw = async (model: string) => {
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    return res.body.text().catch((e: unknown) => `ERROR ${String(e)}`);
  };

  it('429 with and without Retry-After', async () => {
    const withHeader = await post('a;fault=rate_limit;retry_after_s=2');
    expect(withHeader.statusCode).toBe(429);
    expect(withHeader.headers['retry-after']).toBe('2');
    expect(((await withHeader.body.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    const without = await post('b;fault=rate_limit');
    expect(without.statusCode).toBe(429);
    expect(without.headers['retry-after']).toBeUndefined();
    await without.body.dump();
  });

  it('5xx, 503 and Anthropic 529', async () => {
    expect((await ask('c;fault=server_error;status=502')).status).toBe(502);
    expect((await ask('d;fault=overloaded')).status).toBe(503);
    const err: unknown = await ant.messages.create({ model: 'e;fault=overloaded', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err instanceof Anthropic.APIError && err.status).toBe(529);
  });

  it('context length and content policy bodies carry the provider codes', async () => {
    expect((await ask('f;fault=context_length')).code).toBe('context_length_exceeded');
    expect((await ask('g;fault=content_policy')).code).toBe('content_policy_violation');
  });

  it('reset, hang (until the client gives up) and cut streams', async () => {
    expect(await ask('h;fault=reset')).toBeInstanceOf(OpenAI.APIConnectionError);
    const started = Date.now();
    expect(await ask('i;fault=hang')).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    await new Promise((r) => setTimeout(r, 50)); // the server sees the close just after the client
    expect(sim.attemptsFor('i;fault=hang')[0]?.outcome).toBe('client_aborted');
    const cut = await raw('j;fault=cut;after_tokens=2;tokens=6');
    expect(cut).toMatch(/^ERROR/);
    expect(sim.attemptsFor('j;fault=cut;after_tokens=2;tokens=6')[0]).toMatchObject({ outcome: 'cut', tokensSent: 2 });
  });

  it('malformed chunk and missing [DONE] in the raw stream', async () => {
    const malformed = await raw('k;fault=malformed;after_tokens=1;tokens=3');
    expect(malformed).toContain('data: {"choices":[{\n');
    expect(malformed.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const noDone = await raw('l;fault=no_done;tokens=3');
    expect(noDone).toContain('"finish_reason":"stop"');
    expect(noDone).not.toContain('[DONE]');
  });

  it('stall: tokens, then silence until the client leaves', async () => {
    const controller = new AbortController();
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', signal: controller.signal, body: JSON.stringify({ model: 'n;fault=stall;after_tokens=2', stream: true, messages: [{ role: 'user', content: 'x' }] }) });
    let text = '';
    const reading = (async () => {
      for await (const chunk of res.body) text += String(chunk);
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await reading;
    expect(text.match(/"content":"[^"]+"/g)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(sim.attemptsFor('n;fault=stall;after_tokens=2')[0]?.outcome).toBe('client_aborted');
  });

  it('body_stall: headers and a third of the body, then silence', async () => {
    const model = 'bs;fault=body_stall;tokens=30';
    const whole = JSON.stringify(await (await post('bs-whole;tokens=30')).body.json()).length;
    const controller = new AbortController();
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', signal: controller.signal, body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }) });
    expect(res.statusCode).toBe(200);
    let bytes = 0;
    const reading = (async () => {
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
    })().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    controller.abort();
    await reading;
    // The answers differ only in the model name echoed back.
    expect(Math.abs(bytes - Math.floor(whole / 3))).toBeLessThan(10);
    expect(sim.attemptsFor(model)[0]?.outcome).toBe('body_stall');
  });

  it('huge_line: one SSE line of `bytes` bytes in a stream that then ends normally; a padded JSON body', async () => {
    const text = await raw('hl;fault=huge_line;bytes=300000;after_tokens=1;tokens=3');
    const lines = text.split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBe(300000 - 2);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const res = await post('hj;fault=huge_line;bytes=200000');
    expect(res.headers['content-length']).toBeUndefined();
    const body = await res.body.text();
    expect(body.length).toBe(200000);
    expect((JSON.parse(body) as { choices: unknown[] }).choices).toHaveLength(1);
  });

  it('embeddings take the body faults too', async () => {
    const res = await request(`${sim.url}/v1/embeddings`, { method: 'POST', body: JSON.stringify({ model: 'eh;fault=huge_line;bytes=100000', input: 'x' }) });
    const body = await res.body.text();
    expect(body.length).toBe(100000);
    expect((JSON.parse(body) as { data: unknown[] }).data).toHaveLength(1);
  });

  it('huge_error: an error status with a body of `bytes` bytes', async () => {
    const res = await post('he;fault=huge_error;status=503;bytes=150000');
    expect(res.statusCode).toBe(503);
    const body = await res.body.text();
    expect(body.length).toBe(150000);
    expect(JSON.parse(body)).toMatchObject({ error: { type: 'server_error' } });
  });

  it('requires the configured key when asked to', async () => {
    const locked = await startSimulator({ requireKey: 'right' });
    try {
      const wrong = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'wrong', maxRetries: 0 });
      expect(await wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.AuthenticationError);
      const right = new Anthropic({ baseURL: locked.url, apiKey: 'right', maxRetries: 0 });
      expect((await right.messages.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })).type).toBe('message');
      expect(locked.attempts().map((a) => a.outcome)).toEqual(['unauthorized', 'ok']);
    } finally {
      await locked.close();
    }
  });
});

describe('simulator schedules and error rates', () => {
  it('follows a schedule on the injected clock: down for 60 s, then healthy', async () => {
    let now = 1_000_000;
    const sim = await startSimulator({ now: () => now, behaviours: { flap: { tokens: 2, schedule: [{ duration_ms: 60_000, behaviour: { fault: 'server_error', status: 503 } }] } } });
    const oai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const status = () => oai.chat.completions.create({ model: 'flap', messages: [{ role: 'user', content: 'x' }] }).then(() => 200, (e: unknown) => (e as InstanceType<typeof OpenAI.APIError>).status);
    try {
      expect(await status()).toBe(503);
      now += 59_999;
      expect(await status()).toBe(503);
      now += 2;
      expect(await status()).toBe(200);
      expect(sim.attempts().map((a) => a.at - 1_000_000)).toEqual([0, 59_999, 60_001]);
    } finally {
      await sim.close();
    }
  });

  it('error_rate is seeded: the same seed fails the same attempts', async () => {
    const run = async (seed: number) => {
      const sim = await startSimulator({ seed, behaviours: { r: { tokens: 1, error_rate: 0.3 } } });
      const oai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 0 });
      const out: number[] = [];
      for (let i = 0; i < 40; i++) out.push(await oai.chat.completions.create({ model: 'r', messages: [{ role: 'user', content: 'x' }] }).then(() => 0, () => 1));
      await sim.close();
      return out;
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    const failures = a.reduce((n, x) => n + x, 0);
    expect(failures).toBeGreaterThan(4);
    expect(failures).toBeLessThan(22);
  });

  it('rejects an invalid behaviour with a clear message', async () => {
    await expect(startSimulator({ behaviours: { bad: { fault: 'explode' as never } } })).rejects.toThrow(/simulator behaviour for "bad": fault/);
  });
});

describe('simulator tool arguments from any schema', () => {
  // Found by the HTTP property test (seed 553893570): a property of `null` threw, and the
  // simulator's 500 opened the breaker of every later request to that target.
  it('any JSON as a schema gives arguments, never a throw', () => {
    expect(JSON.parse(toolArguments({ type: 'object', properties: { a: null, b: 5, c: { type: 'number' }, d: { type: 'boolean' } } }))).toEqual({ a: 'sim', b: 'sim', c: 1, d: true });
    for (const schema of [null, 7, 'x', [], { properties: null }, { properties: [1, 2] }]) expect(() => toolArguments(schema)).not.toThrow();
  });
});
