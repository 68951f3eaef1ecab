import OpenAI from 'openai';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';

/** The simulated Responses API (POST /v1/responses) through the openai SDK, and its faults as the other APIs have them. */
describe('simulator Responses API', () => {
  let sim: Simulator;
  let oai: OpenAI;
  beforeAll(async () => {
    sim = await startSimulator({
      behaviours: {
        m: { tokens: 5 },
        limited: { fault: 'rate_limit', retry_after_s: 2 },
        down: { fault: 'server_error' },
        busy: { fault: 'overloaded' },
        long: { fault: 'context_length' },
        cut: { fault: 'cut', after_tokens: 2 },
        malformed: { fault: 'malformed', after_tokens: 2 },
        'no-done': { fault: 'no_done' },
      },
    });
    oai = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => sim.close());

  it('create and stream agree; usage in the response and in response.completed', async () => {
    const a = await oai.responses.create({ model: 'm', input: 'hello there', instructions: 'be kind' });
    expect(a.status).toBe('completed');
    expect(a.output_text.split(' ')).toHaveLength(5);
    expect(a.usage).toMatchObject({ output_tokens: 5, total_tokens: (a.usage?.input_tokens ?? 0) + 5 });
    const final = await oai.responses.stream({ model: 'm', input: 'hello there', instructions: 'be kind' }).finalResponse();
    expect(final.output_text).toBe(a.output_text);
    expect(final.usage).toEqual(a.usage);
    expect(sim.attemptsFor('m').at(-1)?.api).toBe('openai-responses');
  });

  it('function calls, streamed in fragments; tool_choice none answers in text', async () => {
    const tools = [{ type: 'function' as const, name: 'f', parameters: { type: 'object', properties: { n: { type: 'integer' } } }, strict: false }];
    const events: string[] = [];
    const stream = oai.responses.stream({ model: 'm', input: 'x', tools });
    stream.on('response.function_call_arguments.delta', (e) => events.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output[0]).toMatchObject({ type: 'function_call', name: 'f', arguments: '{"n":1}' });
    expect(events.length).toBeGreaterThanOrEqual(2);
    const text = await oai.responses.create({ model: 'm', input: 'x', tools, tool_choice: 'none' });
    expect(text.output_text.length).toBeGreaterThan(0);
  });

  it('max_output_tokens cuts the answer short: status incomplete', async () => {
    const r = await oai.responses.create({ model: 'm', input: 'hello there', max_output_tokens: 2 });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details?.reason).toBe('max_output_tokens');
    expect(r.output_text.split(' ')).toHaveLength(2);
  });

  it('error faults in the OpenAI shape: 429 with Retry-After, 500, 503, context length 400', async () => {
    const limited = await oai.responses.create({ model: 'limited', input: 'x' }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBe('2');
    expect(await oai.responses.create({ model: 'down', input: 'x' }).catch((e: unknown) => e)).toBeInstanceOf(OpenAI.InternalServerError);
    expect(((await oai.responses.create({ model: 'busy', input: 'x' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    const long = (await oai.responses.create({ model: 'long', input: 'x' }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(long.code).toBe('context_length_exceeded');
    const bad = (await oai.responses.create({ model: 'm' } as never).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.BadRequestError>;
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('stream faults: cut after 2 tokens, a malformed line, no response.completed', async () => {
    const cut = await oai.responses.stream({ model: 'cut', input: 'x' }).finalResponse().catch((e: unknown) => e);
    expect(cut).toBeInstanceOf(Error);
    expect(sim.attemptsFor('cut').at(-1)).toMatchObject({ outcome: 'cut', tokensSent: 2 });
    const raw = async (model: string) => {
      const res = await request(`${sim.url}/v1/responses`, { method: 'POST', body: JSON.stringify({ model, input: 'x', stream: true }), headers: { 'content-type': 'application/json' } });
      return res.body.text();
    };
    const malformed = await raw('malformed');
    expect(malformed).toContain('data: {"type":"response.output_text.delta","delta":\n');
    expect(malformed).toContain('event: response.completed');
    const noDone = await raw('no-done');
    expect(noDone).toContain('event: response.output_item.done');
    expect(noDone).not.toContain('response.completed');
  });
});
