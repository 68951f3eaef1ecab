import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../gateway/formats/canonical.js';
import { scanText, StreamGuard, type CompiledRule } from '../../gateway/guardrails/index.js';
import { ALL, PEM, rules, SECRETS } from './helpers.js';

const redactAll = rules({ all: { detect: [...ALL], action: 'redact' } }, 'out');
const blockAll = rules({ all: { detect: [...ALL], action: 'block' } }, 'out');

/** Splits `text` at the given offsets (sorted, deduplicated, inside the text). */
function split(text: string, at: readonly number[]): string[] {
  const cuts = [...new Set(at.map((a) => a % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const c of cuts) {
    out.push(text.slice(prev, c));
    prev = c;
  }
  out.push(text.slice(prev));
  return out.filter((s) => s !== '');
}

const every = (n: number) => (text: string) => split(text, Array.from({ length: Math.ceil(text.length / n) }, (_, i) => (i + 1) * n));

interface Run {
  text: string;
  /** The caller's text after each push, to check nothing was released and then redacted. */
  steps: string[];
  blocked: boolean;
  events: StreamEvent[];
}

function run(r: readonly CompiledRule[], chunks: readonly string[], opts?: { holdChars?: number }): Run {
  const g = new StreamGuard(r, opts);
  const events: StreamEvent[] = [];
  const steps: string[] = [];
  let blocked = false;
  const textOf = () => events.map((e) => (e.type === 'text' ? e.text : '')).join('');
  for (const c of chunks) {
    const out = g.push([{ type: 'text', choice: 0, text: c }]);
    events.push(...out.events);
    steps.push(textOf());
    if (out.blocked !== undefined) {
      blocked = true;
      break;
    }
  }
  if (!blocked) {
    const out = g.push([{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'end' }]);
    events.push(...out.events);
    const fin = g.end();
    events.push(...fin.events);
    blocked = out.blocked !== undefined || fin.blocked !== undefined;
  }
  return { text: textOf(), steps, blocked, events };
}

const VALUES: Record<string, string> = { ...SECRETS, card: '4111 1111 1111 1111', email: 'jane.roe@example.org', iban: 'DE89 3704 0044 0532 0130 00', phone: '+44 20 7946 0958', pem: PEM };

describe('StreamGuard: matches split across deltas', () => {
  for (const [name, value] of Object.entries(VALUES)) {
    const text = `before ${value} after.`;
    const expected = scanText(redactAll, text).text;
    it(`${name}: redacted whole when split in 2, 3 and 1-character deltas`, () => {
      expect(expected).not.toContain(value);
      for (const chunks of [split(text, [10]), split(text, [9, 15]), every(1)(text), every(7)(text)]) {
        const r = run(redactAll, chunks);
        expect(r.text).toBe(expected);
        // Every intermediate release is a prefix of the final text: nothing released was part of the match.
        for (const s of r.steps) expect(expected.startsWith(s)).toBe(true);
      }
    });
    it(`${name}: blocked before any of it reaches the caller`, () => {
      for (const chunks of [split(text, [10]), every(1)(text)]) {
        const r = run(blockAll, chunks);
        expect(r.blocked).toBe(true);
        // At most the text before the match was released, never a character of the match.
        expect('before '.startsWith(r.text)).toBe(true);
      }
    });
  }

  it('a PEM block longer than holdChars: header caught, the whole block one marker, the text after it released', () => {
    const body = Array.from({ length: 40 }, () => 'MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB').join('\n');
    const pem = `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----`;
    const text = `key:\n${pem}\nthat was it.`;
    for (const chunks of [every(20)(text), every(1)(text), split(text, [30, 2000])]) {
      const r = run(redactAll, chunks);
      expect(r.text).toBe('key:\n[REDACTED:secrets]\nthat was it.');
      expect(r.text).toBe(scanText(redactAll, text).text);
    }
  });

  it('holds no more than holdChars', () => {
    const g = new StreamGuard(rules({ p: { patterns: ['never-matches-[0-9]{3}'], action: 'redact' } }, 'out'), { holdChars: 16 });
    const out = g.push([{ type: 'text', choice: 0, text: 'x'.repeat(100) }]);
    expect(out.events).toEqual([{ type: 'text', choice: 0, text: 'x'.repeat(84) }]);
  });

  it('never releases half of a surrogate pair, even at the hold bound', () => {
    const g = new StreamGuard(rules({ p: { patterns: ['zzz'], action: 'redact' } }, 'out'), { holdChars: 3 });
    for (const text of ['ab😀😀', '😀c', 'd😀']) {
      for (const e of g.push([{ type: 'text', choice: 0, text }]).events) {
        const t = e.type === 'text' ? e.text : '';
        // A lone surrogate at either end would mean a pair was split.
        expect(/^[\udc00-\udfff]|[\ud800-\udbff]$/.test(t)).toBe(false);
      }
    }
  });

  it('holds an upper-case word only while it could begin an IBAN', () => {
    const g = new StreamGuard(rules({ i: { detect: ['iban'], action: 'redact' } }, 'out'));
    expect(g.push([{ type: 'text', choice: 0, text: 'OK THEN ' }]).events).toEqual([{ type: 'text', choice: 0, text: 'OK THEN ' }]);
    expect(g.push([{ type: 'text', choice: 0, text: 'pay DE89 3704' }]).events).toEqual([{ type: 'text', choice: 0, text: 'pay ' }]);
    expect(g.push([{ type: 'text', choice: 0, text: ' 0044 0532 0130 00.' }]).events).toEqual([{ type: 'text', choice: 0, text: '[REDACTED:iban].' }]);
  });

  it('releases an ordinary word as soon as it ends', () => {
    const g = new StreamGuard(redactAll);
    expect(g.push([{ type: 'text', choice: 0, text: 'Hello wor' }]).events).toEqual([{ type: 'text', choice: 0, text: 'Hello ' }]);
    expect(g.push([{ type: 'text', choice: 0, text: 'ld, ' }]).events).toEqual([{ type: 'text', choice: 0, text: 'world, ' }]);
  });

  it('keeps events in order: held text goes out before a tool call, finish and end of its choice', () => {
    const g = new StreamGuard(redactAll);
    const events: StreamEvent[] = [
      { type: 'start', id: 'x', model: 'm', created: 1 },
      { type: 'text', choice: 0, text: 'mail jane@exa' },
      { type: 'text', choice: 1, text: 'other word' },
      { type: 'text', choice: 0, text: 'mple.org' },
      { type: 'tool_call', choice: 0, index: 0, id: 't', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"to":"jane@exa' },
      { type: 'tool_args', choice: 0, index: 0, delta: 'mple.org"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'finish', choice: 1, reason: 'stop' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 2 } },
      { type: 'end' },
    ];
    const out = [...g.push(events).events, ...g.end().events];
    expect(out).toEqual([
      { type: 'start', id: 'x', model: 'm', created: 1 },
      { type: 'text', choice: 0, text: 'mail ' },
      { type: 'text', choice: 1, text: 'other ' },
      { type: 'text', choice: 0, text: '[REDACTED:email]' },
      { type: 'tool_call', choice: 0, index: 0, id: 't', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"to":"' },
      { type: 'tool_args', choice: 0, index: 0, delta: '[REDACTED:email]"}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'text', choice: 1, text: 'word' },
      { type: 'finish', choice: 1, reason: 'stop' },
      { type: 'usage', usage: { inputTokens: 1, outputTokens: 2 } },
      { type: 'end' },
    ]);
  });

  it("a choice's finish flushes that choice only (choice 1 is not choice 10)", () => {
    const g = new StreamGuard(redactAll);
    const out = g.push([
      { type: 'text', choice: 1, text: 'held wor' },
      { type: 'text', choice: 10, text: 'ten wor' },
      { type: 'finish', choice: 10, reason: 'stop' },
    ]).events;
    expect(out).toEqual([
      { type: 'text', choice: 1, text: 'held ' },
      { type: 'text', choice: 10, text: 'ten ' },
      { type: 'text', choice: 10, text: 'wor' },
      { type: 'finish', choice: 10, reason: 'stop' },
    ]);
  });

  it('after a block nothing more comes out, and end() reports the block and findings', () => {
    const g = new StreamGuard(blockAll);
    const first = g.push([{ type: 'text', choice: 0, text: `ok ${SECRETS.aws ?? ''} ` }, { type: 'finish', choice: 0, reason: 'stop' }]);
    expect(first.blocked).toEqual({ rule: 'all', detector: 'secrets' });
    // The key was complete in this push, so the push released nothing: not even the "ok " before it.
    expect(first.events).toEqual([]);
    expect(g.push([{ type: 'text', choice: 0, text: 'more' }])).toEqual({ events: [], blocked: { rule: 'all', detector: 'secrets' } });
    const fin = g.end();
    expect(fin.blocked).toEqual({ rule: 'all', detector: 'secrets' });
    expect(fin.findings).toEqual([{ rule: 'all', detector: 'secrets', action: 'block', count: 1 }]);
  });

  it('counts a match split across deltas once', () => {
    const g = new StreamGuard(rules({ l: { detect: ['email'], action: 'log' } }, 'out'));
    const chunks = every(1)('a jane@example.org b jane@example.org');
    const out = chunks.flatMap((c) => g.push([{ type: 'text', choice: 0, text: c }]).events);
    const fin = g.end();
    expect([...out, ...fin.events].map((e) => (e.type === 'text' ? e.text : '')).join('')).toBe('a jane@example.org b jane@example.org');
    expect(fin.findings).toEqual([{ rule: 'l', detector: 'email', action: 'log', count: 2 }]);
  });
});

/** Text that is mostly ordinary, with matches, near misses and hostile code units mixed in. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(' ', '\n', 'the ', 'word', '.', ', ', '2024', '$12.50', '-', '@', '+', '(', ')', 'sk-', 'eyJ', 'AKIA', '-----BEGIN ', '4111', ' 1111', 'DE89') },
  { weight: 2, arbitrary: fc.constantFrom(...Object.values(VALUES)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9 ().+-]{1,20}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,30}$/) },
);
/** Redact and log rules over the same detectors: hits overlap, and every one of them must be held the same way. */
const mixed = rules({ all: { detect: [...ALL], action: 'redact' }, audit: { detect: ['email', 'phone', 'secrets'], action: 'log' } }, 'out');
const textArb = fc.array(piece, { maxLength: 40 }).map((p) => p.join(''));

describe('StreamGuard (properties)', () => {
  it('for any text and any chunking, the caller gets exactly what scanText gives for the whole text', () => {
    fc.assert(
      fc.property(textArb, fc.array(fc.nat(), { maxLength: 30 }), (text, cuts) => {
        expect(run(mixed, split(text, cuts)).text).toBe(scanText(mixed, text).text);
      }),
      { numRuns: Number(process.env.GUARD_RUNS ?? 500) },
    );
  });

  it('text without matches comes out unchanged, however it is cut', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcdefgh ,.!?\n'.split('')), maxLength: 300 }), fc.array(fc.nat(), { maxLength: 30 }), (text, cuts) => {
        expect(run(redactAll, split(text, cuts)).text).toBe(text);
      }),
      { numRuns: 300 },
    );
  });
});
