import { describe, expect, it } from 'vitest';
import { ibanValid, luhnValid, scanText } from '../../gateway/guardrails/index.js';
import { ALL, PEM, rules, SECRETS } from './helpers.js';

const every = rules({ all: { detect: [...ALL], action: 'redact' } });
const only = (d: (typeof ALL)[number]) => rules({ r: { detect: [d], action: 'redact' } });

/** What the detector replaced `value` with inside a sentence, or the sentence unchanged. */
function redacts(d: (typeof ALL)[number], value: string): boolean {
  const out = scanText(only(d), `before ${value} after`);
  return out.text === `before [REDACTED:${d}] after` && out.findings.length === 1;
}

describe('secrets', () => {
  for (const [name, value] of Object.entries(SECRETS)) it(`finds a ${name} key`, () => expect(redacts('secrets', value)).toBe(true));

  it('finds a PEM private key block whole, and an unterminated one from its header', () => {
    expect(scanText(only('secrets'), `key:\n${PEM}\nthanks`).text).toBe('key:\n[REDACTED:secrets]\nthanks');
    const cut = scanText(only('secrets'), `${PEM.slice(0, 120)}`).text;
    expect(cut).toBe('[REDACTED:secrets]');
    expect(scanText(only('secrets'), '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----').findings).toEqual([]);
  });

  it('finds a key in JSON-escaped text and after punctuation, not inside a longer word', () => {
    expect(scanText(only('secrets'), `{"k":"${SECRETS.openai ?? ''}"}`).text).toBe('{"k":"[REDACTED:secrets]"}');
    expect(scanText(only('secrets'), `x${SECRETS.aws ?? ''}`).findings).toEqual([]);
  });

  for (const near of ['sk-learn is a library', 'AKIA1234', 'eyJhbGciOiJIUzI1NiJ9 alone', 'ghp_short', 'xoxb-1', 'sk_live_abc', 'AIzaShort']) {
    it(`leaves "${near}" alone`, () => expect(scanText(only('secrets'), near).findings).toEqual([]));
  }
});

describe('email', () => {
  for (const value of ['john.doe@example.com', 'a+tag@sub.example.co.uk', 'X_Y%z@mail-host.io']) it(`finds ${value}`, () => expect(redacts('email', value)).toBe(true));
  it('keeps a sentence full stop after an address outside the marker', () => {
    expect(scanText(only('email'), 'mail john@example.com.').text).toBe('mail [REDACTED:email].');
  });
  for (const near of ['user@localhost', '@handle', 'john@example', 'a@b.c', 'x'.repeat(65) + '@example.com']) {
    it(`leaves "${near.slice(0, 20)}" alone`, () => expect(scanText(only('email'), near).findings).toEqual([]));
  }
});

describe('phone', () => {
  for (const value of ['+1 415 555 2671', '+14155552671', '+44 20 7946 0958', '+44 (0)20 7946 0958', '(415) 555-2671', '415-555-2671', '415.555.2671', '1 415 555 2671', '020 7946 0958', '06 12 34 56 78', '030 1234567', '555-2671']) {
    it(`finds ${value}`, () => expect(redacts('phone', value)).toBe(true));
  }
  for (const near of ['in 2024 we', 'costs $1,299.99 now', 'population 1 234 567', 'on 2024-01-15 at 10:30', '1998-2004', 'id 4155552671', 'v1.2.3', '0.123456789', 'call 12345']) {
    it(`leaves "${near}" alone`, () => expect(scanText(only('phone'), near).findings).toEqual([]));
  }
});

describe('payment_card', () => {
  for (const value of ['4111 1111 1111 1111', '4111-1111-1111-1111', '4111111111111111', '5555 5555 5555 4444', '378282246310005', '3782 822463 10005', '6011111111111117', '2223003122003222'])
    it(`finds ${value}`, () => expect(redacts('payment_card', value)).toBe(true));
  it('trims an expiry or a CVV written after the number', () => {
    expect(scanText(only('payment_card'), 'card 4111 1111 1111 1111 12/25').text).toBe('card [REDACTED:payment_card] 12/25');
    expect(scanText(only('payment_card'), 'card 4111111111111111 123').text).toBe('card [REDACTED:payment_card] 123');
  });
  for (const near of ['4111 1111 1111 1112', '1733090000000', '41111111111111111111111', '4111 1111 1111', '9111111111111111']) {
    it(`leaves "${near}" alone`, () => expect(scanText(only('payment_card'), near).findings).toEqual([]));
  }
  it('luhnValid', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('')).toBe(false);
  });
});

describe('iban', () => {
  for (const value of ['DE89 3704 0044 0532 0130 00', 'DE89370400440532013000', 'GB82 WEST 1234 5698 7654 32', 'FR14 2004 1010 0505 0001 3M02 606', 'NL91ABNA0417164300', 'NO9386011117947'])
    it(`finds ${value}`, () => expect(redacts('iban', value)).toBe(true));
  it('stops at the country length when a number follows', () => {
    expect(scanText(only('iban'), 'DE89 3704 0044 0532 0130 00 1234').text).toBe('[REDACTED:iban] 1234');
  });
  for (const near of ['DE89 3704 0044 0532 0130 01', 'DE8937040044053201300012', 'ZZ89370400440532013000', 'de89370400440532013000']) {
    it(`leaves "${near}" alone`, () => expect(scanText(only('iban'), near).findings).toEqual([]));
  }
  it('ibanValid', () => {
    expect(ibanValid('GB82WEST12345698765432')).toBe(true);
    expect(ibanValid('GB82WEST12345698765433')).toBe(false);
  });
});

describe('ordinary text', () => {
  const plain = [
    'The meeting is on 2024-03-15 at 14:30, room 101.',
    'It costs $1,299.99 or €1.299,99 (about 12% off) in 2023.',
    'request 550e8400-e29b-41d4-a716-446655440000 failed',
    'commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it',
    'Use sk-learn and numpy 1.26.4; see RFC 9110 §15.5.',
    'Population: 8 336 817 (2023 est.), area 783.8 km².',
  ];
  for (const t of plain) it(`no detector flags "${t.slice(0, 30)}…"`, () => expect(scanText(every, t)).toEqual({ text: t, findings: [], blocked: undefined }));
});

describe('custom patterns', () => {
  it('match case-sensitively unless flags: i, and ignore empty matches', () => {
    const cs = rules({ r: { patterns: ['project-[0-9]+'], action: 'redact' } });
    expect(scanText(cs, 'see project-42 and PROJECT-7').text).toBe('see [REDACTED:pattern] and PROJECT-7');
    const ci = rules({ r: { patterns: ['project-[0-9]+'], flags: 'i', action: 'redact' } });
    expect(scanText(ci, 'PROJECT-7').text).toBe('[REDACTED:pattern]');
    const empty = rules({ r: { patterns: ['x*'], action: 'redact' } });
    expect(scanText(empty, 'abc xx d').text).toBe('abc [REDACTED:pattern] d');
  });
});

describe('scanText decisions', () => {
  const mixed = rules({
    audit: { detect: ['email'], action: 'log' },
    mask: { detect: ['email', 'phone'], action: 'redact' },
    stop: { detect: ['secrets'], action: 'block' },
  });

  it('counts per rule and detector, never carrying the value', () => {
    const r = scanText(mixed, 'a@example.com, b@example.com, +1 415 555 2671');
    expect(r.text).toBe('[REDACTED:email], [REDACTED:email], [REDACTED:phone]');
    expect(r.blocked).toBeUndefined();
    expect(r.findings).toEqual([
      { rule: 'audit', detector: 'email', action: 'log', count: 2 },
      { rule: 'mask', detector: 'email', action: 'redact', count: 2 },
      { rule: 'mask', detector: 'phone', action: 'redact', count: 1 },
    ]);
    expect(JSON.stringify(r.findings)).not.toContain('example');
  });

  it('block wins over redact and log', () => {
    const r = scanText(mixed, `a@example.com ${SECRETS.aws ?? ''}`);
    expect(r.blocked).toEqual({ rule: 'stop', detector: 'secrets' });
    expect(r.findings.map((f) => f.action)).toEqual(['log', 'redact', 'block']);
  });

  it('overlapping matches become one marker, labelled by the one that starts first', () => {
    const r = rules({ a: { detect: ['secrets'], action: 'redact' }, b: { patterns: ['PRIVATE KEY-----\\nMIIE'], action: 'redact' } });
    expect(scanText(r, `x ${PEM} y`).text).toBe('x [REDACTED:secrets] y');
  });

  it('returns the same string when nothing matched', () => {
    const t = 'nothing to see here';
    expect(scanText(mixed, t).text).toBe(t);
  });
});
