import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../../gateway/routing/health.js';
import type { BehaviourSpec } from '../../simulator/index.js';
import { textTokens } from '../../simulator/answer.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Continuation by regeneration (issue 17 §5): a stream broken after tokens, no target that
 * accepts a prefill. With `continuation: regenerate` the next target answers the whole request
 * again and only what follows the part already sent is relayed, if and only if the new answer
 * starts with exactly that part; otherwise the caller gets the explicit error event, as without it.
 */
const PROMPT = 'regenerate this answer';
const FULL = textTokens(PROMPT, 12, undefined).join('');
const behaviours: Record<string, BehaviourSpec> = {
  cut: { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  'cut-2': { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  'cut-3': { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  // Another model that words it differently: its answer does not start with what was sent.
  other: { text: 'an entirely different answer to the same question' },
};
const fast = { timeouts: { headers_ms: 500, ttft_ms: 1000, idle_ms: 300, total_ms: 5000 } };
const oai = (model: string) => ({ provider: 'oai', model });

describe('continuation: regenerate', () => {
  let h: Harness;
  let client: OpenAI;
  const health = new HealthRegistry();
  beforeAll(async () => {
    h = await startHarness({
      behaviours,
      gateway: { health },
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: {
          same: { targets: [oai('cut')], fallbacks: [oai('same-words')], continuation: 'regenerate', ...fast },
          differs: { targets: [oai('cut-2')], fallbacks: [oai('other')], continuation: 'regenerate', breaker: { consecutive_failures: 1 }, ...fast },
          prefill: { targets: [oai('cut-3')], fallbacks: [oai('never')], continuation: 'prefill', ...fast },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => void (h.records.length = 0));

  async function read(model: string): Promise<{ text: string; finish: string | undefined; error: unknown }> {
    let text = '';
    let finish: string | undefined;
    try {
      for await (const c of await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: PROMPT }] })) {
        text += c.choices[0]?.delta.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish, error: undefined };
    } catch (error) {
      return { text, finish, error };
    }
  }

  it('the regenerated answer starts with what was sent: the caller gets the rest, once, as one answer', async () => {
    const got = await read('same');
    expect(got.error).toBeUndefined();
    expect(got.text).toBe(FULL);
    expect(got.finish).toBe('stop');
    const rec = await eventually(() => h.records.find((r) => r.route === 'same'));
    expect(rec.continued).toBe(true);
    expect(rec.streamTruncated).toBe(false);
    expect(rec.attempts.map((a) => `${a.model}:${a.reason}:${a.errorClass ?? 'ok'}`)).toEqual(['cut:primary:provider_stream_broken', 'same-words:continuation:ok']);
    // The fallback was asked the whole question anew (no assistant prefill in its body).
    const body = h.sim.attemptsFor('same-words')[0]?.body as { messages: { role: string }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user']);
  });

  it('it starts otherwise: the caller gets the part sent and the explicit error event; the fallback is not blamed', async () => {
    const got = await read('differs');
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    // Exactly what the broken attempt sent: four tokens of the answer, nothing of the other one.
    expect(got.text).toBe(textTokens(PROMPT, 12, undefined).slice(0, 4).join(''));
    const rec = await eventually(() => h.records.find((r) => r.route === 'differs'));
    expect(rec.streamTruncated).toBe(true);
    expect(rec.errorClass).toBe('provider_stream_broken');
    expect(rec.attempts.map((a) => `${a.model}:${a.reason}:${a.errorClass ?? 'ok'}`)).toEqual(['cut-2:primary:provider_stream_broken', 'other:continuation:gateway_cancelled']);
    // One failure would open the fallback's breaker: it answered correctly, so nothing moved.
    expect(health.breakers().find((b) => b.model === 'other')?.state).toBe('closed');
  });

  it('without regenerate, no prefill-capable target means the error event, and the fallback is not asked', async () => {
    const got = await read('prefill');
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect(h.sim.attemptsFor('never')).toHaveLength(0);
  });
});
