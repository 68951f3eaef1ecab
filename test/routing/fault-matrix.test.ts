import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BehaviourSpec } from '../../simulator/index.js';
import { textTokens } from '../../simulator/answer.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/** Upper time bounds allow for a loaded 2-core CI machine (timers fire late, never early). */
const within = (ms: number): number => ms * 3;

/**
 * Issue 17's acceptance over the whole fault catalogue: every fault the simulator has, on the
 * primary, for every kind of caller (OpenAI Chat Completions, Anthropic Messages and OpenAI
 * Responses clients, streaming and not). Each
 * request ends in the complete answer (the fallback's, a retry's or a continuation's: the
 * simulator answers the same prompt with the same words on every model) or in an explicit
 * error, never in a truncated success, and never later than its timers allow.
 */
const TOKENS = 12;
const PROMPT = 'tell me about the fault matrix';
const FULL = textTokens(PROMPT, TOKENS, undefined).join('');

const FAULTS: Record<string, BehaviourSpec> = {
  rate_limit: { fault: 'rate_limit' },
  server_error: { fault: 'server_error' },
  overloaded: { fault: 'overloaded' },
  reset: { fault: 'reset' },
  hang: { fault: 'hang' },
  slow_start: { ttft_ms: 3000, latency_ms: 3000 },
  stall: { fault: 'stall', after_tokens: 4, itl_ms: 5 },
  cut: { fault: 'cut', after_tokens: 4, itl_ms: 5 },
  malformed: { fault: 'malformed', after_tokens: 4 },
  no_done: { fault: 'no_done' },
  context_length: { fault: 'context_length' },
  content_policy: { fault: 'content_policy' },
  body_stall: { fault: 'body_stall', after_tokens: 4, itl_ms: 5 },
  huge_line: { fault: 'huge_line', after_tokens: 4, bytes: 256 * 1024 },
};
/** Faults that are the caller's (nothing else can answer): an explicit 400, never a fallback. */
const CALLER_FAULT = new Set(['content_policy']);

const timers = { connect_ms: 500, headers_ms: 400, ttft_ms: 400, idle_ms: 400, total_ms: 6000 };
const retries = { attempts: 1, backoff_ms: 20, max_backoff_ms: 50 };
/** The longest any case may take: two timed-out attempts, a backoff, the fallback's answer. */
const BOUND = within(2 * timers.ttft_ms + 600);

type Caller = 'openai-json' | 'openai-stream' | 'anthropic-json' | 'anthropic-stream' | 'responses-json' | 'responses-stream';
const CALLERS: Caller[] = ['openai-json', 'openai-stream', 'anthropic-json', 'anthropic-stream', 'responses-json', 'responses-stream'];

describe('the fault catalogue × every caller: a complete answer or an explicit error', () => {
  let h: Harness;
  let oai: OpenAI;
  let ant: Anthropic;
  beforeAll(async () => {
    const behaviours: Record<string, BehaviourSpec> = {};
    const routes: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(FAULTS)) {
      behaviours[`m-${name}`] = { ...spec, tokens: TOKENS };
      // The fallback accepts a prefill (Anthropic), so a stream broken after tokens can be continued.
      // A breaker that stays closed: every caller meets the primary's fault, none is spared by an open circuit.
      const breaker = { consecutive_failures: 100, min_requests: 100 };
      routes[name] = { targets: [{ provider: 'oai', model: `m-${name}` }], fallbacks: [{ provider: 'ant', model: `fb-${name}` }], timeouts: timers, retries, breaker, assemble_streams: true, response_limits: { max_event_bytes: 64 * 1024 } };
    }
    h = await startHarness({
      behaviours,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' }, ant: { type: 'anthropic', base_url: url, api_key: 'k' } },
        routes,
      }),
    });
    oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 20_000 });
    ant = new Anthropic({ baseURL: h.url, apiKey: 'k', maxRetries: 0, timeout: 20_000 });
  });
  afterAll(() => h.close());

  /** What the caller got: the text and finish reason of a success, or the error it raised. */
  async function call(caller: Caller, route: string): Promise<{ text: string; finish: string | null | undefined } | { error: unknown }> {
    try {
      switch (caller) {
        case 'openai-json': {
          const r = await oai.chat.completions.create({ model: route, messages: [{ role: 'user', content: PROMPT }] });
          return { text: r.choices[0]?.message.content ?? '', finish: r.choices[0]?.finish_reason };
        }
        case 'openai-stream': {
          let text = '';
          let finish: string | null | undefined;
          for await (const c of await oai.chat.completions.create({ model: route, stream: true, messages: [{ role: 'user', content: PROMPT }] })) {
            text += c.choices[0]?.delta.content ?? '';
            finish = c.choices[0]?.finish_reason ?? finish;
          }
          return { text, finish };
        }
        case 'anthropic-json': {
          const r = await ant.messages.create({ model: route, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] });
          return { text: r.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), finish: r.stop_reason };
        }
        case 'anthropic-stream': {
          const s = ant.messages.stream({ model: route, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }] });
          const m = await s.finalMessage();
          return { text: m.content.map((b) => (b.type === 'text' ? b.text : '')).join(''), finish: m.stop_reason };
        }
        case 'responses-json': {
          const r = await oai.responses.create({ model: route, input: PROMPT });
          return { text: r.output_text, finish: r.status === 'completed' ? 'stop' : r.status };
        }
        case 'responses-stream': {
          const r = await oai.responses.stream({ model: route, input: PROMPT }).finalResponse();
          return { text: r.output_text, finish: r.status === 'completed' ? 'stop' : r.status };
        }
      }
    } catch (error) {
      return { error };
    }
  }

  for (const fault of Object.keys(FAULTS)) {
    for (const caller of CALLERS) {
      it(`${fault} → ${caller}`, async () => {
        const before = h.records.length;
        const started = Date.now();
        const got = await call(caller, fault);
        const ms = Date.now() - started;
        expect(ms).toBeLessThan(BOUND);
        if (CALLER_FAULT.has(fault)) {
          expect('error' in got && (got.error instanceof OpenAI.APIError || got.error instanceof Anthropic.APIError)).toBe(true);
          if ('error' in got && (got.error instanceof OpenAI.APIError || got.error instanceof Anthropic.APIError)) expect(got.error.status).toBe(400);
          return;
        }
        // Never a truncated success: an answer is the whole answer, with its finish reason.
        if ('error' in got) throw new Error(`${fault} → ${caller}: expected the fallback's whole answer, got ${String(got.error)}`);
        expect(got.text).toBe(FULL);
        expect(['stop', 'end_turn']).toContain(got.finish);
        const rec = await eventually(() => h.records.slice(before).find((r) => r.route === fault));
        expect(rec.streamTruncated).toBe(false);
        expect(rec.errorClass).toBeUndefined();
      });
    }
  }

  it('non-streaming callers were streamed upstream: the same timers judged them', async () => {
    const json = h.sim.attempts().filter((a) => a.model === 'm-slow_start');
    // Every caller, each one attempt on the slow primary (ttft_ms fails over; not retried), all upstream streams.
    expect(json.map((a) => a.stream)).toEqual(CALLERS.map(() => true));
    expect(await eventually(() => (json.every((a) => a.outcome === 'client_aborted') ? true : undefined))).toBe(true);
  });
});
