import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BehaviourSpec } from '../../simulator/index.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/** A broken stream is never presented as a clean success (DESIGN.md §6). */
const models: Record<string, BehaviourSpec> = {
  'cut-up': { tokens: 10, fault: 'cut', after_tokens: 3, itl_ms: 2 },
  'stall-up': { tokens: 10, fault: 'stall', after_tokens: 2, itl_ms: 2 },
  'malformed-up': { tokens: 6, fault: 'malformed', after_tokens: 2 },
  'nodone-up': { tokens: 5, fault: 'no_done' },
  'slow-up': { tokens: 50, itl_ms: 20 },
  'hang-up': { fault: 'hang' },
  'reset-up': { fault: 'reset' },
};

describe('stream faults', () => {
  let h: Harness;
  let oai: OpenAI;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: models,
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k' },
        },
        routes: {
          ...Object.fromEntries(Object.keys(models).map((m) => [m.replace('-up', ''), { targets: [{ provider: 'oai', model: m }] }])),
          'ant-cut': { targets: [{ provider: 'ant', model: 'cut-up' }] },
          'ant-nodone': { targets: [{ provider: 'ant', model: 'nodone-up' }] },
        },
        defaults: { timeouts: { idle_ms: 300, ttft_ms: 400, headers_ms: 400 } },
      }),
    });
    oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  async function consume(model: string): Promise<{ text: string; error: unknown }> {
    let text = '';
    try {
      const stream = await oai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'go' }] });
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      return { text, error: undefined };
    } catch (error) {
      return { text, error };
    }
  }

  it('a stream cut mid-answer ends with an explicit error after the partial text', async () => {
    h.records.length = 0;
    const { text, error } = await consume('cut');
    expect(text.split(' ').filter(Boolean)).toHaveLength(3);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toMatch(/mid-stream|connection lost/);
    const rec = await eventually(() => h.records[0]);
    expect(rec.streamTruncated).toBe(true);
    expect(rec.errorCode).toBe('KEEL_STREAM_BROKEN');
  });

  it('a stalled stream ends with an error once the idle gap passes', async () => {
    const started = Date.now();
    const { text, error } = await consume('stall');
    expect(text.split(' ').filter(Boolean)).toHaveLength(2);
    expect(String((error as Error).message)).toMatch(/idle/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a cut Anthropic-format stream reaches an Anthropic caller as an error event', async () => {
    const ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
    const err = await ant.messages.stream({ model: 'ant-cut', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] }).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  it('a malformed chunk is skipped and counted; the stream completes', async () => {
    h.records.length = 0;
    const { text, error } = await consume('malformed');
    expect(error).toBeUndefined();
    expect(text.split(' ').filter(Boolean)).toHaveLength(6);
    const rec = await eventually(() => h.records[0]);
    expect(rec.malformedChunks).toBe(1);
    expect(rec.errorCode).toBeUndefined();
  });

  it('a complete stream without [DONE] is finalised promptly and cleanly', async () => {
    h.records.length = 0;
    const started = Date.now();
    const { text, error } = await consume('nodone');
    expect(error).toBeUndefined();
    expect(text.split(' ').filter(Boolean)).toHaveLength(5);
    expect(Date.now() - started).toBeLessThan(1000);
    const rec = await eventually(() => h.records[0]);
    expect(rec.endSynthesized).toBe(true);
    const ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0 });
    const final = await ant.messages.stream({ model: 'ant-nodone', max_tokens: 100, messages: [{ role: 'user', content: 'go' }] }).finalMessage();
    expect(final.stop_reason).toBe('end_turn');
  });

  it('no first token within ttft_ms → 504 before any byte was sent', async () => {
    const err = await oai.chat.completions.create({ model: 'hang', stream: true, messages: [{ role: 'user', content: 'go' }] }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
  });

  it('connection reset before headers → 502 naming the provider', async () => {
    const err = await oai.chat.completions.create({ model: 'reset', messages: [{ role: 'user', content: 'go' }] }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect(String((err as Error).message)).toMatch(/provider oai/);
  });

  it('a client that disconnects mid-stream aborts the upstream attempt', async () => {
    h.sim.clearAttempts();
    const controller = new AbortController();
    const stream = await oai.chat.completions.create(
      { model: 'slow', stream: true, messages: [{ role: 'user', content: 'go' }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const _ of stream) if (++chunks === 3) controller.abort();
    } catch {
      // the abort surfaces here
    }
    const attempt = await eventually(() => h.sim.attemptsFor('slow-up').find((a) => a.endedAt !== undefined));
    expect(attempt.outcome).toBe('client_aborted');
    expect(attempt.tokensSent ?? 0).toBeLessThan(50);
  });
});
