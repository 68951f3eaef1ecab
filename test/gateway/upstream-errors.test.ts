import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BehaviourSpec } from '../../simulator/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** Provider failures reach the caller in its own format with a status it can act on. */
const faults: Record<string, BehaviourSpec> = {
  'ctx-up': { fault: 'context_length' },
  'policy-up': { fault: 'content_policy' },
  'limited-up': { fault: 'rate_limit', retry_after_s: 3 },
  'broken-up': { fault: 'server_error', status: 500 },
  'busy-up': { fault: 'overloaded' },
};

function routesFor(provider: string): Record<string, unknown> {
  return Object.fromEntries(Object.keys(faults).map((m) => [`${provider}-${m.replace('-up', '')}`, { targets: [{ provider, model: m }] }]));
}

describe('upstream errors in the caller format', () => {
  let h: Harness;
  let oai: OpenAI;
  let ant: Anthropic;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: faults,
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k1' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k2' },
          badkey: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'wrong' },
        },
        routes: { ...routesFor('oai'), ...routesFor('ant') },
        // Retrying is tested in test/routing; here the final error's shape is, so keep the waits short.
        defaults: { retries: { backoff_ms: 10, max_backoff_ms: 20, max_retry_after_ms: 1000 } },
      }),
    });
    oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  const ask = (model: string) => oai.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  const askAnt = (model: string) => ant.messages.create({ model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);

  it('context length exceeded: 400 with the provider code, same format', async () => {
    const err = await ask('oai-ctx');
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('context_length_exceeded');
  });

  it('content policy: 400 with the provider reason', async () => {
    const err = await ask('oai-policy');
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('content_policy_violation');
  });

  it('context length from an Anthropic target reaches an OpenAI caller as a 400 with the reason', async () => {
    const err = await ask('ant-ctx');
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/prompt is too long/);
  });

  it('rate limit whose Retry-After exceeds the retry cap: 429 at once, Retry-After relayed', async () => {
    const err = await ask('oai-limited');
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('3');
    const antErr = await askAnt('ant-limited');
    expect(antErr).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('provider 500: 502 api_error naming the provider', async () => {
    const err = await ask('oai-broken');
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as Error).message).toMatch(/provider oai/);
  });

  it('provider overloaded (Anthropic 529): 503 overloaded_error for an Anthropic caller', async () => {
    const err = await askAnt('ant-busy');
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(503);
    const body = (err as InstanceType<typeof Anthropic.APIError>).error as { error: { type: string } };
    expect(body.error.type).toBe('overloaded_error');
  });
});
