import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BehaviourSpec } from '../../simulator/index.js';
import { textTokens } from '../../simulator/answer.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/** Upper time bounds allow for a loaded 2-core CI machine (timers fire late, never early); lower bounds are exact. */
const within = (ms: number): number => ms * 3;

/**
 * Streams that break after tokens reached the caller: completed on a target that
 * accepts an assistant prefill, or ended with an explicit error; never a clean end
 * on a truncated answer. Plus hedging, which races a second target before the first token.
 */
const TOKENS = 12;
const behaviours: Record<string, BehaviourSpec> = {
  cut: { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  stall: { fault: 'stall', after_tokens: 5, itl_ms: 5 },
  'cut-plain': { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  'cut-rejected': { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  rejects: { fault: 'reject_prefill' },
  'slow-primary': { ttft_ms: 1500 },
  'slow-capped': { ttft_ms: 300 },
};

const fast = { timeouts: { headers_ms: 500, ttft_ms: 2000, idle_ms: 300, total_ms: 5000 } };

describe('streaming-safe failover', () => {
  let h: Harness;
  let client: OpenAI;
  beforeAll(async () => {
    h = await startHarness({
      behaviours,
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k' },
        },
        routes: {
          'r-cut': { targets: [{ provider: 'oai', model: 'cut' }], fallbacks: [{ provider: 'ant', model: 'cont-cut' }], ...fast },
          'r-stall': { targets: [{ provider: 'oai', model: 'stall' }], fallbacks: [{ provider: 'ant', model: 'cont-stall' }], ...fast },
          'r-cut-plain': { targets: [{ provider: 'oai', model: 'cut-plain' }], fallbacks: [{ provider: 'oai', model: 'no-prefill' }], ...fast },
          'r-cut-rejected': { targets: [{ provider: 'oai', model: 'cut-rejected' }], fallbacks: [{ provider: 'ant', model: 'rejects' }], ...fast },
          'r-ant-cut': { targets: [{ provider: 'ant', model: 'cut' }], fallbacks: [{ provider: 'ant', model: 'cont-ant' }], ...fast },
          'r-hedge': {
            targets: [{ provider: 'oai', model: 'slow-primary' }],
            fallbacks: [{ provider: 'oai', model: 'hedge-fast' }],
            hedge: { after_ms: 200, max_share: 1 },
            ...fast,
          },
          'r-hedge-capped': {
            targets: [{ provider: 'oai', model: 'slow-capped' }],
            fallbacks: [{ provider: 'oai', model: 'hedge-capped' }],
            hedge: { after_ms: 100, max_share: 0.01 },
            ...fast,
          },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
  });

  const prompt = 'continue me please';
  const messages = [{ role: 'user' as const, content: prompt }];
  const fullAnswer = textTokens(prompt, TOKENS, undefined).join('');
  const seen = (model: string) => h.sim.attemptsFor(model);

  async function stream(model: string) {
    const started = Date.now();
    let text = '';
    let served: string | undefined;
    let finish: string | null | undefined;
    let error: unknown;
    try {
      const res = await client.chat.completions.create({ model, messages, stream: true });
      for await (const chunk of res) {
        text += chunk.choices[0]?.delta.content ?? '';
        served ??= chunk.model;
        finish = chunk.choices[0]?.finish_reason ?? finish;
      }
    } catch (e) {
      error = e;
    }
    return { text, served, finish, error, ms: Date.now() - started };
  }

  function lastMessage(body: unknown): unknown {
    const msgs = (body as { messages: unknown[] }).messages;
    return msgs[msgs.length - 1];
  }

  it('stream cut mid-answer: completed on a prefill-capable fallback, the caller gets the whole answer once', async () => {
    const { text, finish, error, ms } = await stream('r-cut');
    expect(error).toBeUndefined();
    expect(text).toBe(fullAnswer);
    expect(finish).toBe('stop');
    expect(seen('cut')).toHaveLength(1);
    expect(seen('cont-cut')).toHaveLength(1);
    // The continuation carried the four tokens already sent, as an assistant prefill without trailing space.
    const sent = textTokens(prompt, TOKENS, undefined).slice(0, 4).join('').trimEnd();
    expect(lastMessage(seen('cont-cut')[0]?.body)).toEqual({ role: 'assistant', content: [{ type: 'text', text: sent }] });
    expect(seen('cont-cut')[0]?.at).toBeGreaterThanOrEqual(seen('cut')[0]?.at ?? Infinity);
    expect(ms).toBeLessThan(within(1500));
    const rec = await eventually(() => h.records[0]);
    expect(rec.continued).toBe(true);
    expect(rec.streamTruncated).toBe(false);
    expect(rec.attempts.map((a) => a.reason)).toEqual(['primary', 'continuation']);
    expect(rec.usage?.outputTokens).toBe(TOKENS - 4);
  });

  it('stream stalled mid-answer: after the idle gap, completed on the fallback', async () => {
    const { text, finish, error, ms } = await stream('r-stall');
    expect(error).toBeUndefined();
    expect(text).toBe(fullAnswer);
    expect(finish).toBe('stop');
    expect(seen('stall')).toHaveLength(1);
    expect(seen('cont-stall')).toHaveLength(1);
    const gap = (seen('cont-stall')[0]?.at ?? 0) - (seen('stall')[0]?.at ?? 0);
    expect(gap).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(within(1500));
  });

  it('an Anthropic caller on an Anthropic route gets one message, continued in the same content block', async () => {
    const ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
    const final = await ant.messages.stream({ model: 'r-ant-cut', max_tokens: 100, messages }).finalMessage();
    expect(final.content).toEqual([expect.objectContaining({ type: 'text', text: fullAnswer })]);
    expect(final.stop_reason).toBe('end_turn');
    expect(seen('cont-ant')).toHaveLength(1);
  });

  it('no fallback accepts a prefill: an explicit error after the partial text, nothing retried', async () => {
    const { text, error } = await stream('r-cut-plain');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(text).toBe(textTokens(prompt, TOKENS, undefined).slice(0, 4).join(''));
    expect(seen('no-prefill')).toHaveLength(0);
    expect((await eventually(() => h.records[0])).streamTruncated).toBe(true);
  });

  it('the fallback rejects the prefill: the caller sees the original failure, not the prefill error', async () => {
    const { text, error } = await stream('r-cut-rejected');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toMatch(/connection lost mid-stream/);
    expect((error as Error).message).not.toMatch(/prefill/);
    expect(text).toBe(textTokens(prompt, TOKENS, undefined).slice(0, 4).join(''));
    expect(seen('rejects')).toHaveLength(1);
    const rec = await eventually(() => h.records[0]);
    expect(rec.errorCode).toBe('KEEL_STREAM_BROKEN');
    expect(rec.attempts.map((a) => `${a.reason}:${a.errorClass ?? 'ok'}`)).toEqual(['primary:provider_stream_broken', 'continuation:caller_rejected']);
  });

  it('hedging: a slow primary loses to the hedge, which is started after the delay and wins; the primary is aborted', async () => {
    const { text, served, ms } = await stream('r-hedge');
    expect(text).toBe(fullAnswer);
    expect(served).toBe('hedge-fast');
    expect(ms).toBeLessThan(within(1000));
    const primary = await eventually(() => seen('slow-primary').find((a) => a.endedAt !== undefined));
    expect(primary.outcome).toBe('client_aborted');
    const hedgeStart = (seen('hedge-fast')[0]?.at ?? 0) - primary.at;
    expect(hedgeStart).toBeGreaterThanOrEqual(190);
    expect(hedgeStart).toBeLessThan(within(500));
    const rec = await eventually(() => h.records[0]);
    expect(rec.hedged).toBe(true);
    expect(rec.attempts.map((a) => `${a.model}:${a.reason}:${a.errorClass ?? 'ok'}`).sort()).toEqual(['hedge-fast:hedge:ok', 'slow-primary:primary:gateway_cancelled']);
  });

  it('hedging is capped by max_share: over three slow requests only the first is hedged', async () => {
    for (let i = 0; i < 3; i++) {
      const { text } = await stream('r-hedge-capped');
      expect(text).toBe(fullAnswer);
    }
    expect(seen('hedge-capped')).toHaveLength(1);
    expect(seen('slow-capped')).toHaveLength(3);
    await eventually(() => (h.records.length === 3 ? true : undefined));
    expect(h.records.filter((r) => r.hedged)).toHaveLength(1);
  });
});
