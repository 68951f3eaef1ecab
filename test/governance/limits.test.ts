import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * RPM/TPM on one gateway (issue 15 §3): OpenAI's rate-limit headers on every answer, a 429 in
 * the caller's format past the limit, and the official openai client backing off by them and
 * getting through on its own retry. Rejections are caller_over_limit: no provider sees them.
 */
const KEY = 'keel-limits-key-0123456789abcdef';
const TPM_KEY = 'keel-tpm-key-0123456789abcdefgh';

describe('rate limits on one gateway', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: { 'slow-up': { latency_ms: 400 } },
      config: (url) => ({
        ...baseConfig(url, { routes: { ...(baseConfig(url).routes as object), slow: { targets: [{ provider: 'oai', model: 'slow-up' }] } } }),
        auth: {
          keys: [
            // 120 RPM: one request every 500 ms, none saved up beyond that.
            { id: 'rpm', key: KEY, team: 'a', limits: { rpm: 120, burst_s: 0.5 } },
            { id: 'tpm', key: TPM_KEY, team: 'b', limits: { tpm: 6000, burst_s: 1 } },
          ],
        },
      }),
    });
  });
  afterAll(() => h.close());
  const messages = [{ role: 'user' as const, content: 'hi' }];

  it('headers on every answer; past the limit a 429 with Retry-After; the SDK retries by them and succeeds', async () => {
    const raw = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-sim', messages }) });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('x-ratelimit-limit-requests')).toBe('120');
    expect(raw.headers.get('x-ratelimit-remaining-requests')).toMatch(/^\d+$/);
    expect(raw.headers.get('x-ratelimit-reset-requests')).toMatch(/ms$|s$/);
    const burst = await Promise.all(Array.from({ length: 3 }, () => fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-sim', messages }) })));
    const limited = burst.find((r) => r.status === 429);
    expect(limited).toBeDefined();
    expect(Number(limited?.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(Number(limited?.headers.get('retry-after-ms'))).toBeLessThanOrEqual(1000);
    expect(limited?.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(((await limited?.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    const sent = h.sim.attempts().length;
    // Two requests at once through the SDK: the second is limited and retried after retry-after-ms.
    const oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: KEY, maxRetries: 3 });
    await new Promise((r) => setTimeout(r, 600));
    const limitedBefore = h.records.filter((r) => r.errorCode === 'KEEL_RATE_LIMITED').length;
    const both = await Promise.all([oai.chat.completions.create({ model: 'gpt-sim', messages }), oai.chat.completions.create({ model: 'gpt-sim', messages })]);
    expect(both).toHaveLength(2);
    // One of the two was refused at least once on the way, and the SDK's own retry got it through.
    await eventually(() => (h.records.filter((r) => r.errorCode === 'KEEL_RATE_LIMITED').length > limitedBefore ? true : undefined));
    // Only answered requests reached the provider: limited ones never did.
    expect(h.sim.attempts().length - sent).toBe(2);
    const rec = await eventually(() => h.records.find((r) => r.errorCode === 'KEEL_RATE_LIMITED'));
    expect(rec.errorClass).toBe('caller_over_limit');
    expect(rec.attempts).toHaveLength(0);
  });

  it('TPM counts what a request may use, then what it used', async () => {
    const post = (maxTokens: number, model = 'gpt-sim') => fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TPM_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model, max_tokens: maxTokens, messages }) });
    // 6000 TPM = 100 tokens a second, a 1 s burst. A request that may use 5000 tokens passes only
    // on an idle key, and while it runs it holds them all: a small one beside it is refused.
    const big = post(5000, 'slow');
    await new Promise((r) => setTimeout(r, 100));
    const beside = await post(50);
    expect(beside.status).toBe(429);
    expect(beside.headers.get('x-ratelimit-limit-tokens')).toBe('6000');
    expect(Number(beside.headers.get('retry-after-ms'))).toBeGreaterThan(10_000);
    expect((await big).status).toBe(200);
    // It used a few tokens, not 5000: reconciled, the tokens are back within about a second.
    await new Promise((r) => setTimeout(r, 1200));
    expect((await post(50)).status).toBe(200);
  });
});
