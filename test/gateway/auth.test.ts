import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

describe('client keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      config: (url) => ({ ...baseConfig(url), auth: { keys: [{ id: 'app-1', key: 'keel-key-1-0123456789abcdef', team: 'search' }, { id: 'app-2', key: 'keel-key-2-0123456789abcdef' }] } }),
    });
  });
  afterAll(() => h.close());

  const messages = [{ role: 'user' as const, content: 'hi' }];

  it('accepts a valid key from the OpenAI SDK (Bearer) and identifies the caller', async () => {
    h.records.length = 0;
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'keel-key-1-0123456789abcdef', maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-sim', messages });
    const rec = await eventually(() => h.records[0]);
    expect(rec.clientId).toBe('app-1');
    expect(rec.team).toBe('search');
  });

  it('accepts a valid key from the Anthropic SDK (x-api-key)', async () => {
    const client = new Anthropic({ baseURL: h.url, apiKey: 'keel-key-2-0123456789abcdef', maxRetries: 0 });
    const res = await client.messages.create({ model: 'claude-sim', max_tokens: 10, messages });
    expect(res.type).toBe('message');
  });

  it('rejects a wrong key with 401 in each caller format, without echoing it', async () => {
    const oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'stolen-guess', maxRetries: 0 });
    const err = await oai.chat.completions.create({ model: 'gpt-sim', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(String((err as Error).message)).not.toContain('stolen-guess');
    const ant = new Anthropic({ baseURL: h.url, apiKey: 'stolen-guess', maxRetries: 0 });
    const antErr = await ant.messages.create({ model: 'claude-sim', max_tokens: 10, messages }).catch((e: unknown) => e);
    expect(antErr).toBeInstanceOf(Anthropic.AuthenticationError);
    const body = (antErr as InstanceType<typeof Anthropic.APIError>).error as { error: { type: string } };
    expect(body.error.type).toBe('authentication_error');
  });

  it('rejects a missing key with 401 and says how to send one', async () => {
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-sim', messages }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/Authorization: Bearer/);
  });
});
