import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/** OpenAI callers reaching Anthropic-format targets and the reverse, streaming included. */
describe('cross-format translation', () => {
  let h: Harness;
  let oai: OpenAI;
  let ant: Anthropic;
  let directOai: OpenAI;
  let directAnt: Anthropic;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: { 'claude-up': { tokens: 7 }, 'gpt-up': { tokens: 5 } },
      config: (url) =>
        baseConfig(url, {
          routes: {
            'to-anthropic': { targets: [{ provider: 'ant', model: 'claude-up' }] },
            'to-openai': { targets: [{ provider: 'oai', model: 'gpt-up' }] },
          },
        }),
    });
    oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
    directOai = new OpenAI({ baseURL: `${h.sim.url}/v1`, apiKey: 'k', maxRetries: 0 });
    directAnt = new Anthropic({ baseURL: h.sim.url, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  const question = 'Translate me';
  const tool = { name: 'lookup', description: 'look up', schema: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'number' } } } };

  it('OpenAI client → Anthropic target, non-streaming', async () => {
    h.sim.clearAttempts();
    const res = await oai.chat.completions.create({
      model: 'to-anthropic',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: question },
      ],
      max_tokens: 64,
    });
    const upstream = await directAnt.messages.create({ model: 'claude-up', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: question }] });
    const text = upstream.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]?.message.content).toBe(text);
    expect(res.choices[0]?.finish_reason).toBe('stop');
    expect(res.usage?.completion_tokens).toBe(7);
    expect(res.usage?.prompt_tokens).toBe(upstream.usage.input_tokens);
    const sent = h.sim.attemptsFor('claude-up')[0]?.body as Record<string, unknown>;
    expect(sent).toMatchObject({ model: 'claude-up', max_tokens: 64, system: 'Be brief.' });
  });

  it('OpenAI client → Anthropic target, streaming with usage', async () => {
    const stream = await oai.chat.completions.create({
      model: 'to-anthropic',
      messages: [{ role: 'user', content: question }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      if (c.usage) usage = c.usage;
    }
    const upstream = await directAnt.messages.create({ model: 'claude-up', max_tokens: 4096, messages: [{ role: 'user', content: question }] });
    expect(text).toBe(upstream.content.map((b) => (b.type === 'text' ? b.text : '')).join(''));
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(7);
  });

  it('OpenAI client → Anthropic target, tool calls streamed and the tool result sent back', async () => {
    const tools = [{ type: 'function' as const, function: { name: tool.name, description: tool.description, parameters: tool.schema } }];
    const final = await oai.chat.completions.stream({ model: 'to-anthropic', messages: [{ role: 'user', content: question }], tools }).finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(JSON.parse(call.function.arguments)).toEqual({ q: 'sim', n: 1 });
    h.sim.clearAttempts();
    await oai.chat.completions.create({
      model: 'to-anthropic',
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"answer":42}' },
      ],
      tools,
    });
    const sent = h.sim.attemptsFor('claude-up')[0]?.body as { messages: { role: string; content: unknown }[] };
    expect(sent.messages[1]).toMatchObject({ role: 'assistant', content: [{ type: 'tool_use', id: call.id, name: 'lookup', input: { q: 'sim', n: 1 } }] });
    expect(sent.messages[2]).toMatchObject({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '{"answer":42}' }] });
  });

  it('Anthropic client → OpenAI target, non-streaming', async () => {
    h.sim.clearAttempts();
    const res = await ant.messages.create({ model: 'to-openai', max_tokens: 50, system: 'Sys', messages: [{ role: 'user', content: question }] });
    const upstream = await directOai.chat.completions.create({ model: 'gpt-up', messages: [{ role: 'user', content: question }] });
    expect(res.type).toBe('message');
    expect(res.content).toHaveLength(1);
    expect(res.content[0]).toMatchObject({ type: 'text', text: upstream.choices[0]?.message.content });
    expect(res.stop_reason).toBe('end_turn');
    expect(res.usage.output_tokens).toBe(5);
    const sent = h.sim.attemptsFor('gpt-up')[0]?.body as { messages: { role: string; content: unknown }[]; max_tokens: number };
    expect(sent.messages[0]).toEqual({ role: 'system', content: 'Sys' });
    expect(sent.max_tokens).toBe(50);
  });

  it('Anthropic client → OpenAI target, streaming text and tool use', async () => {
    h.records.length = 0;
    const stream = ant.messages.stream({ model: 'to-openai', max_tokens: 50, messages: [{ role: 'user', content: question }] });
    const final = await stream.finalMessage();
    const upstream = await directOai.chat.completions.create({ model: 'gpt-up', messages: [{ role: 'user', content: question }] });
    expect(final.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toBe(upstream.choices[0]?.message.content);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(5);
    const rec = await eventually(() => h.records.find((r) => r.route === 'to-openai'));
    expect(rec.usage?.outputTokens).toBe(5);

    const tools = [{ name: tool.name, description: tool.description, input_schema: { type: 'object' as const, properties: tool.schema.properties } }];
    const withTool = await ant.messages.stream({ model: 'to-openai', max_tokens: 50, messages: [{ role: 'user', content: question }], tools }).finalMessage();
    const use = withTool.content.find((b) => b.type === 'tool_use');
    expect(withTool.stop_reason).toBe('tool_use');
    expect(use?.type === 'tool_use' && use.input).toEqual({ q: 'sim', n: 1 });
  });

  it('rejects n > 1 to an Anthropic target with a clear 400', async () => {
    const err = await oai.chat.completions.create({ model: 'to-anthropic', messages: [{ role: 'user', content: 'x' }], n: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(String((err as Error).message)).toMatch(/n > 1/);
  });
});
