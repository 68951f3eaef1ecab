import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../gateway/routing/health.js';
import type { BehaviourSpec } from '../../simulator/index.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

const within = (ms: number): number => ms * 3;

/**
 * Embeddings through the same attempt loop as chat (issue 17 §2): retries, fallbacks, breakers,
 * timeouts and the record's attempts, one case per failure class, with the official client.
 */
const behaviours: Record<string, BehaviourSpec> = {
  'e-429-once': { fault: 'rate_limit', times: 1 },
  'e-500': { fault: 'server_error' },
  'e-hang': { fault: 'hang' },
  'e-reset': { fault: 'reset' },
  'e-cut': { fault: 'cut' },
  'e-dead': { fault: 'overloaded' },
};
const fast = { timeouts: { connect_ms: 500, headers_ms: 300, idle_ms: 300, total_ms: 5000 }, retries: { attempts: 2, backoff_ms: 20, max_backoff_ms: 50 } };
const oai = (model: string) => ({ provider: 'oai', model });

describe('embeddings with the resilience of chat', () => {
  let h: Harness;
  let client: OpenAI;
  const health = new HealthRegistry();
  beforeAll(async () => {
    h = await startHarness({
      behaviours,
      gateway: { health },
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' }, ant: { type: 'anthropic', base_url: url, api_key: 'k' } },
        routes: {
          'x-429': { targets: [oai('e-429-once')], ...fast },
          'x-500': { targets: [oai('e-500')], fallbacks: [oai('fb-500')], ...fast },
          'x-hang': { targets: [oai('e-hang')], fallbacks: [oai('fb-hang')], ...fast },
          'x-reset': { targets: [oai('e-reset')], fallbacks: [oai('fb-reset')], ...fast },
          'x-cut': { targets: [oai('e-cut')], fallbacks: [oai('fb-cut')], ...fast },
          'x-breaker': { targets: [oai('e-dead')], fallbacks: [oai('fb-breaker')], ...fast, retries: { attempts: 0 }, breaker: { consecutive_failures: 1, open_s: 60 } },
          // A chat-only provider first: skipped in the plan, never sent an embeddings request.
          'x-mixed': { targets: [{ provider: 'ant', model: 'claude-x' }], fallbacks: [oai('fb-mixed')], ...fast },
          'x-none': { targets: [{ provider: 'ant', model: 'claude-y' }] },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => void (h.records.length = 0));

  const seen = (model: string) => h.sim.attemptsFor(model);
  const rec = (route: string) => eventually(() => h.records.find((r) => r.route === route));
  const trail = async (route: string) => (await rec(route)).attempts.map((a) => `${a.model}:${a.reason}:${a.errorClass ?? 'ok'}`);

  it('a 429 is retried on the same target', async () => {
    const res = await client.embeddings.create({ model: 'x-429', input: 'hello' });
    expect(res.data).toHaveLength(1);
    expect(await trail('x-429')).toEqual(['e-429-once:primary:provider_rate_limit', 'e-429-once:retry:ok']);
  });

  it('persistent 500: retried, then the fallback answers; usage recorded from the answer', async () => {
    const res = await client.embeddings.create({ model: 'x-500', input: ['one', 'two', 'three'], dimensions: 8 });
    expect(res.data.map((d) => d.embedding.length)).toEqual([8, 8, 8]);
    expect(await trail('x-500')).toEqual(['e-500:primary:provider_error', 'e-500:retry:provider_error', 'e-500:retry:provider_error', 'fb-500:fallback:ok']);
    const r = await rec('x-500');
    expect(r.usage?.inputTokens).toBe(res.usage.prompt_tokens);
    expect(r.provider).toBe('oai');
    // The caller's body reached the provider as sent: the input array and `dimensions`.
    expect(seen('fb-500')[0]?.body).toMatchObject({ input: ['one', 'two', 'three'], dimensions: 8, model: 'fb-500' });
  });

  it('no response: fails over after headers_ms, not the total budget', async () => {
    const started = Date.now();
    await client.embeddings.create({ model: 'x-hang', input: 'hello' });
    expect(Date.now() - started).toBeLessThan(within(600));
    expect(await trail('x-hang')).toEqual(['e-hang:primary:provider_timeout', 'fb-hang:fallback:ok']);
  });

  it('a reset and a body cut mid-way are provider failures that fail over', async () => {
    await client.embeddings.create({ model: 'x-reset', input: 'hello' });
    expect((await trail('x-reset')).at(-1)).toBe('fb-reset:fallback:ok');
    await client.embeddings.create({ model: 'x-cut', input: 'hello' });
    expect((await trail('x-cut')).at(-1)).toBe('fb-cut:fallback:ok');
    expect((await rec('x-cut')).attempts[0]?.errorClass).toMatch(/^provider_/);
  });

  it('the breaker opens on a dead target: the next request goes straight to the fallback', async () => {
    await client.embeddings.create({ model: 'x-breaker', input: 'a' });
    expect(health.breakers().find((b) => b.model === 'e-dead')?.state).toBe('open');
    h.records.length = 0;
    await client.embeddings.create({ model: 'x-breaker', input: 'b' });
    expect(await trail('x-breaker')).toEqual(['fb-breaker:primary:ok']);
    expect(seen('e-dead')).toHaveLength(1);
  });

  it('targets without embeddings are left out of the plan; a route with none is a clear 400', async () => {
    await client.embeddings.create({ model: 'x-mixed', input: 'a' });
    expect(await trail('x-mixed')).toEqual(['fb-mixed:primary:ok']);
    expect(seen('claude-x')).toHaveLength(0);
    const err = await client.embeddings.create({ model: 'x-none', input: 'a' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/serves embeddings/);
  });

  it('a caller error is not retried and no provider is charged', async () => {
    const err = await client.embeddings.create({ model: 'x-500', input: [] as string[] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((await rec('x-500')).attempts).toHaveLength(0);
  });
});
