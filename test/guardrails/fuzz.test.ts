import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../gateway/formats/canonical.js';
import { guardRequest, scanText, StreamGuard } from '../../gateway/guardrails/index.js';
import { ALL, rules } from './helpers.js';

/**
 * Hostile input: nothing throws, and no input makes a scan super-linear. Every detector's
 * regex is written without nested ambiguous quantifiers; these inputs are the ones each would
 * backtrack on if it were not.
 */
const every = rules({
  r: { detect: [...ALL], action: 'redact' },
  l: { detect: [...ALL], action: 'log' },
  p: { patterns: ['ticket-[0-9]{4}'], action: 'redact' },
});

const N = 100_000;
const ADVERSARIAL: Record<string, string> = {
  'one long word': 'a'.repeat(N),
  'local parts and @': 'a@'.repeat(N / 2),
  'dotted domain without a TLD': `a@b${'.c1'.repeat(N / 3)}`,
  'dotted local part': 'a.'.repeat(N / 2),
  'digits and spaces': '1 '.repeat(N / 2),
  'a long digit run': '4'.repeat(N),
  'digit groups': '555-123 '.repeat(N / 8),
  'parentheses and plus': '+(1) '.repeat(N / 5),
  'sk- then a long token': `sk-${'a'.repeat(N)}`,
  'JWT-like segments': `eyJaaaaaaaaaa.eyJaaaaaaaaaa${'.a'.repeat(N / 2)}`,
  'eyJ repeated': 'eyJ.'.repeat(N / 4),
  'PEM headers without footers': '-----BEGIN RSA PRIVATE KEY-----'.repeat(N / 31),
  'PEM header then a long body': `-----BEGIN RSA PRIVATE KEY-----\n${'A'.repeat(N)}`,
  'footers without headers': '-----END '.repeat(N / 9),
  'PEM header then footer starts': `-----BEGIN RSA PRIVATE KEY-----\n${'-----END '.repeat(N / 9)}`,
  'IBAN-like groups': 'DE89 '.repeat(N / 5),
  'upper-case run': 'AKIA'.repeat(N / 4),
  'dashes': '-'.repeat(N),
};

const req = (text: string): ChatRequest => ({
  model: 'm',
  system: text,
  messages: [{ role: 'user', content: [{ type: 'text', text }, { type: 'tool_call', id: 'i', name: 'n', arguments: text }] }],
  stream: false,
  streamUsage: false,
  original: { format: 'openai-chat', body: { model: 'm', messages: [{ role: 'user', content: text }], deep: JSON.parse('['.repeat(200) + JSON.stringify(text) + ']'.repeat(200)) as unknown } },
});

describe('guardrails never throw', () => {
  it('on arbitrary unicode, whole and streamed in arbitrary pieces', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constant('-'), fc.constant('@'), fc.constant('4'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 400 }), fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        scanText(every, text);
        guardRequest(every, req(text));
        const g = new StreamGuard(every, { holdChars: 32 });
        let prev = 0;
        for (const c of [...cuts.map((x) => x % (text.length + 1))].sort((a, b) => a - b)) {
          g.push([{ type: 'text', choice: 0, text: text.slice(prev, c) }, { type: 'tool_args', choice: 0, index: 0, delta: text.slice(prev, c) }]);
          prev = c;
        }
        g.push([{ type: 'text', choice: 0, text: text.slice(prev) }]);
        g.end();
      }),
      { numRuns: 500 },
    );
  });

  it('on a 100 KB arbitrary string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: N, maxLength: N }), (text) => {
        scanText(every, text);
      }),
      { numRuns: 3 },
    );
  });
});

describe('guardrails run in linear time', () => {
  for (const [name, text] of Object.entries(ADVERSARIAL)) {
    it(`${name}: 100 KB scanned well under a second, whole and streamed`, () => {
      let t = performance.now();
      scanText(every, text);
      const whole = performance.now() - t;
      t = performance.now();
      const g = new StreamGuard(every);
      for (let i = 0; i < text.length; i += 2000) g.push([{ type: 'text', choice: 0, text: text.slice(i, i + 2000) }]);
      g.end();
      const streamed = performance.now() - t;
      expect(whole).toBeLessThan(500);
      expect(streamed).toBeLessThan(1000);
    });
  }
});

describe('microbench (printed; the real bench is elsewhere)', () => {
  it('scanText on a typical 4 KB message, StreamGuard per 20-character delta', () => {
    const para =
      'Thanks for the update on the Q3 roadmap. The migration to the new billing service is planned for 2024-10-15, ' +
      'and the budget is $12,500 (about 8% over plan). Please loop in jane.roe@example.org and call me on +44 20 7946 0958 if needed. ' +
      'Version 3.2.1 fixed the retry bug; see commit 3f786850e387550fdab836ed7e6dc881de23001b and ticket 48213. ';
    let msg = '';
    while (msg.length < 4096) msg += para;
    msg = msg.slice(0, 4096);
    const all = rules({ pii: { detect: [...ALL], action: 'redact' } });
    for (let i = 0; i < 50; i++) scanText(all, msg);
    const iters = 500;
    let t = performance.now();
    for (let i = 0; i < iters; i++) scanText(all, msg);
    const perScan = (performance.now() - t) / iters;

    const deltas = Array.from({ length: Math.ceil(msg.length / 20) }, (_, i) => msg.slice(i * 20, i * 20 + 20));
    const rounds = 50;
    t = performance.now();
    for (let r = 0; r < rounds; r++) {
      const g = new StreamGuard(all);
      for (const d of deltas) g.push([{ type: 'text', choice: 0, text: d }]);
      g.end();
    }
    const perDelta = (performance.now() - t) / (rounds * deltas.length);
    console.log(`guardrails microbench: scanText 4 KB (5 detectors) ${(perScan * 1000).toFixed(0)} µs; StreamGuard ${(perDelta * 1000).toFixed(1)} µs per 20-char delta`);
    expect(perScan).toBeLessThan(20);
  });
});
