import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Guardrails as stages (issue 15 §4), through the official clients: a secret in a request is
 * blocked before any provider sees it, an email in a request is redacted before it leaves,
 * PII in an answer is redacted before the caller sees it — split over stream chunks too — and
 * a secret in a streamed answer ends the stream with an in-band error. Verdicts are on the
 * record; matched values nowhere.
 */
const SECRET = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const CARD = '4111 1111 1111 1111';
const KEY = 'keel-guardrail-key-0123456789abcd';

describe('guardrails', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: {
        'pii-up': { text: `call me at jane.doe@example.com or pay with ${CARD} today`, itl_ms: 5 },
        'leak-up': { text: `here is the key ${SECRET} enjoy` },
      },
      config: (url) => {
        const base = baseConfig(url);
        return {
          ...base,
          routes: {
            ...(base.routes as object),
            guarded: { targets: [{ provider: 'oai', model: 'pii-up' }], guardrails: ['no-secrets', 'pii'] },
            'guarded-claude': { targets: [{ provider: 'ant', model: 'pii-up' }], guardrails: ['no-secrets', 'pii'] },
            leaky: { targets: [{ provider: 'oai', model: 'leak-up' }], guardrails: ['no-secrets-out'] },
          },
          guardrails: {
            'no-secrets': { detect: ['secrets'], direction: 'in', action: 'block' },
            'no-secrets-out': { detect: ['secrets'], direction: 'out', action: 'block' },
            pii: { detect: ['email', 'payment_card'], action: 'redact' },
            'log-tickets': { patterns: ['TICKET-\\d{4}'], action: 'log' },
          },
          auth: { keys: [{ id: 'app', key: KEY, team: 't', guardrails: ['log-tickets'] }] },
        };
      },
    });
  });
  afterAll(() => h.close());
  const oai = () => new OpenAI({ baseURL: `${h.url}/v1`, apiKey: KEY, maxRetries: 0 });
  const ant = () => new Anthropic({ baseURL: h.url, apiKey: KEY, maxRetries: 0 });

  it('a secret in the request: 400 in the caller’s format, naming the rule; no provider saw it', async () => {
    const before = h.sim.attempts().length;
    const err = await oai().chat.completions.create({ model: 'guarded', messages: [{ role: 'user', content: `my key is ${SECRET}` }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/blocked by the guardrail `no-secrets` \(secrets\)/);
    expect((err as Error).message).not.toContain(SECRET);
    const antErr = await ant().messages.create({ model: 'guarded-claude', max_tokens: 10, messages: [{ role: 'user', content: `key: ${SECRET}` }] }).catch((e: unknown) => e);
    expect(antErr).toBeInstanceOf(Anthropic.BadRequestError);
    expect(h.sim.attempts().length).toBe(before);
    const rec = await eventually(() => h.records.find((r) => r.errorCode === 'KEEL_GUARDRAIL_BLOCKED'));
    expect(rec.errorClass).toBe('caller_guardrail');
    expect(rec.guardrails).toEqual([{ direction: 'in', rule: 'no-secrets', detector: 'secrets', action: 'block', count: 1 }]);
    expect(JSON.stringify(h.records)).not.toContain(SECRET);
  });

  it('PII in the request is redacted before it leaves; in the answer before the caller sees it (both formats)', async () => {
    h.sim.clearAttempts();
    const res = await oai().chat.completions.create({ model: 'guarded', messages: [{ role: 'user', content: 'mail bob@example.org about TICKET-1234' }] });
    const sent = JSON.stringify(h.sim.attempts()[0]?.body);
    expect(sent).toContain('[REDACTED:email]');
    expect(sent).not.toContain('bob@example.org');
    // A log rule only counts: the ticket number went through.
    expect(sent).toContain('TICKET-1234');
    const text = res.choices[0]?.message.content ?? '';
    expect(text).toContain('[REDACTED:email]');
    expect(text).toContain('[REDACTED:payment_card]');
    expect(text).not.toMatch(/jane\.doe|4111/);
    const msg = await ant().messages.create({ model: 'guarded-claude', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    const antText = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('');
    expect(antText).toContain('[REDACTED:payment_card]');
    expect(antText).not.toContain('4111');
    const rec = await eventually(() => h.records.find((r) => r.guardrails.some((v) => v.rule === 'log-tickets')));
    expect(rec.guardrails).toEqual(expect.arrayContaining([{ direction: 'in', rule: 'log-tickets', detector: 'pattern', action: 'log', count: 1 }, { direction: 'in', rule: 'pii', detector: 'email', action: 'redact', count: 1 }]));
  });

  it('a card number streamed over several chunks is redacted as a whole (openai and anthropic stream helpers)', async () => {
    const stream = oai().chat.completions.stream({ model: 'guarded', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const chunks: string[] = [];
    for await (const chunk of stream) chunks.push(chunk.choices[0]?.delta.content ?? '');
    const done = await stream.finalChatCompletion();
    const text = done.choices[0]?.message.content ?? '';
    expect(text).toBe('call me at [REDACTED:email] or pay with [REDACTED:payment_card] today');
    // The simulator sent the number as four tokens 5 ms apart; the caller got several deltas, none with a piece of it.
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => /\d{4}/.test(c))).toBe(false);
    const antStream = ant().messages.stream({ model: 'guarded-claude', max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] });
    const final = await antStream.finalMessage();
    expect(final.content.map((b) => (b.type === 'text' ? b.text : '')).join('')).toBe('call me at [REDACTED:email] or pay with [REDACTED:payment_card] today');
  });

  it('a secret in a streamed answer: the stream ends with an error the SDK raises, the secret never sent', async () => {
    const stream = await oai().chat.completions.create({ model: 'leaky', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String((err as Error).message)).toMatch(/guardrail `no-secrets-out`/);
    expect(text).not.toContain('sk-proj');
    const rec = await eventually(() => h.records.find((r) => r.route === 'leaky'));
    expect(rec.errorClass).toBe('caller_guardrail');
    expect(rec.guardrails).toEqual([{ direction: 'out', rule: 'no-secrets-out', detector: 'secrets', action: 'block', count: 1 }]);
  });
});
