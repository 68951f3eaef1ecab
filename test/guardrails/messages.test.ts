import { describe, expect, it } from 'vitest';
import type { ChatRequest, ChatResponse } from '../../gateway/formats/canonical.js';
import { compileGuardrails, guardRequest, guardResponse } from '../../gateway/guardrails/index.js';
import { rules, SECRETS } from './helpers.js';

const CARD = '4111 1111 1111 1111';
const KEY = SECRETS.openai ?? '';

function openaiReq(text: string): ChatRequest {
  return {
    model: 'chat',
    system: `be brief ${text}`,
    messages: [
      { role: 'user', content: [{ type: 'text', text }] },
      { role: 'assistant', content: [{ type: 'tool_call', id: 'c1', name: 'pay', arguments: JSON.stringify({ card: text }) }] },
      { role: 'tool', content: [{ type: 'tool_result', toolCallId: 'c1', content: `ok ${text}` }] },
    ],
    stream: false,
    streamUsage: false,
    original: {
      format: 'openai-chat',
      body: {
        model: 'chat',
        messages: [
          { role: 'system', content: `be brief ${text}` },
          { role: 'user', content: text },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card: text }) } }] },
          { role: 'tool', tool_call_id: 'c1', content: `ok ${text}` },
        ],
        metadata: { note: text },
      },
    },
  };
}

function anthropicReq(text: string): ChatRequest {
  return {
    model: 'chat',
    system: text,
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
    stream: false,
    streamUsage: false,
    original: {
      format: 'anthropic-messages',
      body: { model: 'chat', max_tokens: 10, system: text, messages: [{ role: 'user', content: [{ type: 'text', text }, { type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text }] }] }] },
    },
  };
}

function answer(text: string): ChatResponse {
  return {
    id: 'r1',
    model: 'm',
    created: 1,
    choices: [{ index: 0, finishReason: 'stop', content: [{ type: 'text', text: `here: ${text}` }, { type: 'tool_call', id: 'c', name: 'f', arguments: JSON.stringify({ a: text }) }] }],
    usage: { inputTokens: 1, outputTokens: 1 },
  };
}

const strings = (v: unknown): string[] => (typeof v === 'string' ? [v] : typeof v === 'object' && v !== null ? Object.values(v).flatMap(strings) : []);

describe('guardRequest', () => {
  it('redacts system, text, tool-call arguments, tool results and every string of both raw bodies', () => {
    const r = rules({ pii: { detect: ['payment_card'], action: 'redact' } });
    for (const req of [openaiReq(`my card ${CARD}`), anthropicReq(`my card ${CARD}`)]) {
      const g = guardRequest(r, req);
      expect(g.blocked).toBeUndefined();
      expect(JSON.stringify(g.req)).not.toContain(CARD);
      expect(JSON.stringify(g.req)).toContain('[REDACTED:payment_card]');
      expect(g.req.original.format).toBe(req.original.format);
      expect(g.req.original.body.model).toBe('chat');
      for (const s of strings(g.req.original.body)) expect(s).not.toContain('4111');
      // Same shape: the same keys everywhere, only strings changed.
      expect(Object.keys(g.req.original.body)).toEqual(Object.keys(req.original.body));
      expect(g.req.messages.map((m) => m.content.map((p) => p.type))).toEqual(req.messages.map((m) => m.content.map((p) => p.type)));
      // The original is untouched.
      expect(JSON.stringify(req)).toContain(CARD);
    }
  });

  it('counts what the canonical form and the raw body both carry once (max of the two views)', () => {
    const g = guardRequest(rules({ pii: { detect: ['payment_card'], action: 'redact' } }), anthropicReq(CARD));
    // Canonical: system + text = 2; raw body: system, text and the tool_result text = 3 (a field the canonical form drops).
    expect(g.findings).toEqual([{ rule: 'pii', detector: 'payment_card', action: 'redact', count: 3 }]);
  });

  it('tool-call arguments stay valid JSON after redaction', () => {
    const g = guardRequest(rules({ s: { detect: ['secrets'], action: 'redact' } }), openaiReq(`line\n${KEY}`));
    const call = g.req.messages[1]?.content[0];
    expect(call?.type === 'tool_call' && (JSON.parse(call.arguments) as { card: string }).card).toBe('line\n[REDACTED:secrets]');
  });

  it('block: reports the rule and detector, the value nowhere', () => {
    const g = guardRequest(rules({ keys: { detect: ['secrets'], action: 'block' } }), openaiReq(`use ${KEY}`));
    expect(g.blocked).toEqual({ rule: 'keys', detector: 'secrets' });
    expect(JSON.stringify(g.findings)).not.toContain(KEY);
  });

  it('log: counts, changes nothing, and returns the same object', () => {
    const req = openaiReq('write to a@example.com');
    const g = guardRequest(rules({ audit: { detect: ['email'], action: 'log' } }), req);
    expect(g.req).toBe(req);
    expect(g.blocked).toBeUndefined();
    // Canonical: system, text, tool arguments, tool result = 4; the raw body also has metadata.note = 5.
    expect(g.findings).toEqual([{ rule: 'audit', detector: 'email', action: 'log', count: 5 }]);
  });

  it('nothing matched: the same object, no findings', () => {
    const req = anthropicReq('hello there');
    const g = guardRequest(rules({ all: { detect: ['secrets', 'email', 'phone', 'payment_card', 'iban'], action: 'redact' } }), req);
    expect(g.req).toBe(req);
    expect(g.findings).toEqual([]);
  });

  it('inline binary is not scanned; JSON in a raw-body string is scanned value by value', () => {
    const req = anthropicReq('hi');
    const data = `+12345678 ${CARD}`;
    const body = {
      model: 'chat',
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data } }, { type: 'image_url', image_url: { url: `data:image/png;base64,${data}` } }] }],
      tool: JSON.stringify({ note: `line\n${KEY}` }),
    };
    const g = guardRequest(rules({ p: { detect: ['payment_card', 'secrets'], action: 'redact' } }), { ...req, original: { format: 'anthropic-messages', body } });
    const out = g.req.original.body as typeof body;
    expect(out.messages).toBe(body.messages);
    expect(JSON.parse(out.tool)).toEqual({ note: 'line\n[REDACTED:secrets]' });
  });

  it('a caller key __proto__ in the raw body stays a plain key', () => {
    const req = openaiReq(CARD);
    const body = JSON.parse(`{"model":"chat","messages":[],"__proto__":{"x":"${CARD}"}}`) as Record<string, unknown>;
    const g = guardRequest(rules({ p: { detect: ['payment_card'], action: 'redact' } }), { ...req, original: { format: 'openai-chat', body } });
    expect(Object.getPrototypeOf(g.req.original.body)).toBe(Object.prototype);
    expect(JSON.stringify(g.req.original.body)).toBe('{"model":"chat","messages":[],"__proto__":{"x":"[REDACTED:payment_card]"}}');
  });
});

describe('guardResponse', () => {
  it('redact, block and log on the answer', () => {
    const res = answer(`mail a@example.com card ${CARD}`);
    const red = guardResponse(rules({ r: { detect: ['email', 'payment_card'], action: 'redact' } }, 'out'), res);
    expect(JSON.stringify(red.res)).not.toMatch(/a@example|4111/);
    const call = red.res.choices[0]?.content[1];
    expect(call?.type === 'tool_call' && JSON.parse(call.arguments)).toEqual({ a: 'mail [REDACTED:email] card [REDACTED:payment_card]' });
    expect(guardResponse(rules({ b: { detect: ['payment_card'], action: 'block' } }, 'out'), res).blocked).toEqual({ rule: 'b', detector: 'payment_card' });
    const logged = guardResponse(rules({ l: { detect: ['email'], action: 'log' } }, 'out'), res);
    expect(logged.res).toBe(res);
    expect(logged.findings[0]?.count).toBe(2);
  });
});

describe('select', () => {
  const g = compileGuardrails({
    a: { detect: ['email'], patterns: [], flags: '', direction: 'in', action: 'log' },
    b: { detect: ['phone'], patterns: [], flags: '', direction: 'out', action: 'redact' },
    c: { detect: ['iban'], patterns: [], flags: '', direction: 'both', action: 'block' },
  });
  it('keeps the order named, each rule once, and only the direction asked', () => {
    expect(g.select(['c', 'a', 'b', 'a', 'ghost'], 'in').map((r) => r.name)).toEqual(['c', 'a']);
    expect(g.select(['c', 'a', 'b'], 'out').map((r) => r.name)).toEqual(['c', 'b']);
  });
});
