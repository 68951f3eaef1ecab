import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildRedactor, clip, MIN_SECRET_LENGTH, REDACTED, redactShapes } from '../../gateway/redact.js';
import { buildRuntime } from '../../gateway/runtime/resolve.js';
import { parseConfig } from '../helpers/harness.js';

/** Secrets as config holds them: printable, no whitespace, at least the matched length. */
const secret = fc.stringMatching(new RegExp(`^[A-Za-z0-9_.~+/=-]{${MIN_SECRET_LENGTH},64}$`));
/** Surrounding text: anything printable, quotes and JSON punctuation included. */
const text = fc.string({ unit: 'grapheme-ascii', maxLength: 200 });

describe('redactor (properties)', () => {
  it('a configured secret never survives, wherever it sits and however often', () => {
    fc.assert(
      fc.property(fc.array(secret, { minLength: 1, maxLength: 4 }), fc.array(text, { minLength: 2, maxLength: 5 }), (secrets, parts) => {
        const redact = buildRedactor(secrets);
        const s = secrets[0] ?? '';
        const out = redact(parts.join(s));
        for (const k of secrets) {
          // The one way a secret can appear afterwards: it is a piece of the marker itself ("EDACTE").
          if (REDACTED.includes(k)) continue;
          expect(out).not.toContain(k);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is idempotent: redacting twice changes nothing more', () => {
    fc.assert(
      fc.property(fc.array(secret, { maxLength: 3 }), text, (secrets, t) => {
        const redact = buildRedactor(secrets);
        expect(redact(redact(t))).toBe(redact(t));
      }),
      { numRuns: 300 },
    );
  });

  it('text with nothing key-like is left exactly as it was', () => {
    // Lower-case words and punctuation: no digits, no `sk-`, no `Bearer`, nothing 16 characters after key=.
    const prose = fc.string({ unit: fc.constantFrom(...'abcdefghij ,.:;!?()'.split('')), maxLength: 200 });
    fc.assert(
      fc.property(prose, (t) => {
        expect(buildRedactor(['Z9Q-not-in-prose-Z9Q'])(t)).toBe(t);
      }),
      { numRuns: 300 },
    );
  });
});

describe('redactor (shapes)', () => {
  const cases: [string, string, string][] = [
    ['Bearer token', 'Authorization: Bearer abc.def-ghi_123 was refused', `Authorization: Bearer ${REDACTED} was refused`],
    ['OpenAI key', 'Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.', `Incorrect API key provided: ${REDACTED}.`],
    ['Anthropic key', 'key sk-ant-api03-AAAABBBBCCCCDDDD is disabled', `key ${REDACTED} is disabled`],
    ['AWS access key id', 'signed with AKIAIOSFODNN7EXAMPLE today', `signed with ${REDACTED} today`],
    ['token= value', 'GET /x?token=0123456789abcdef0123&x=1', `GET /x?token=${REDACTED}&x=1`],
    ['JSON api_key', '{"api_key": "QUJDREVGR0hJSktMTU5PUFFSU1RVVg=="}', `{"api_key": "${REDACTED}"}`],
    ['short key= value kept', 'key=abc is fine', 'key=abc is fine'],
    ['prose kept', 'The model `gpt-4o` does not exist.', 'The model `gpt-4o` does not exist.'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => expect(redactShapes(input)).toBe(expected));
  }

  it('removes the longer of two overlapping secrets whole', () => {
    const redact = buildRedactor(['abcdef', 'abcdefghijkl']);
    expect(redact('x abcdefghijkl y')).toBe(`x ${REDACTED} y`);
  });

  it('the runtime redactor knows provider keys, client keys and the admin token', () => {
    const rt = buildRuntime(
      parseConfig({
        server: { admin_token: 'admin-token-for-tests-0123456789' },
        auth: { keys: [{ id: 'a', key: 'client-key-for-tests-0123456789' }] },
        providers: { p: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', api_key: 'plainproviderkey' } },
        routes: { r: { targets: [{ provider: 'p', model: 'm' }] } },
      }),
      1,
    );
    const out = rt.redact('plainproviderkey / client-key-for-tests-0123456789 / admin-token-for-tests-0123456789');
    expect(out).toBe(`${REDACTED} / ${REDACTED} / ${REDACTED}`);
  });
});

describe('clip', () => {
  it('keeps short strings and cuts long ones to the limit with an ellipsis', () => {
    expect(clip('short')).toBe('short');
    const long = 'm'.repeat(5_000_000);
    expect(clip(long)).toHaveLength(101);
    expect(clip(long).endsWith('…')).toBe(true);
  });
});
