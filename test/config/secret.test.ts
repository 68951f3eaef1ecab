import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../config/secret.js';

/**
 * hashKey is what auth.keys[].key_sha256 holds and what every authenticated request computes of
 * the key it presents: the one-shot crypto.hash must give createHash's digest of the UTF-8 bytes
 * for any string, lone surrogates included (both encode them as U+FFFD), or configured keys stop matching.
 */
describe('hashKey', () => {
  it("equals createHash('sha256') of the key's UTF-8, hex, for any string", () => {
    const oracle = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
    fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', '😀') })), (s) => {
      expect(hashKey(s)).toBe(oracle(s));
    }), { numRuns: 2000 });
    expect(hashKey('sk-keel-example')).toBe(oracle('sk-keel-example'));
    expect(hashKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
