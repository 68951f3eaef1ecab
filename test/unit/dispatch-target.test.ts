import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dispatchTarget } from '../../gateway/upstream/send.js';

describe('dispatchTarget', () => {
  it('is the origin and path + query new URL gives, asked once or many times', () => {
    const segment = fc.stringMatching(/^[a-z0-9._~%-]{0,8}$/);
    const url = fc.tuple(fc.constantFrom('http', 'https'), fc.constantFrom('127.0.0.1', 'example.com', '[::1]'), fc.option(fc.integer({ min: 1, max: 65535 })), fc.array(segment, { maxLength: 3 }), fc.option(segment))
      .map(([scheme, host, port, path, q]) => `${scheme}://${host}${port === null ? '' : `:${port}`}/${path.join('/')}${q === null ? '' : `?api-version=${q}`}`);
    fc.assert(
      fc.property(url, (u) => {
        const parsed = new URL(u);
        const want = { origin: parsed.origin, path: parsed.pathname + parsed.search };
        expect(dispatchTarget(u)).toStrictEqual(want);
        expect(dispatchTarget(u)).toStrictEqual(want);
      }),
      { numRuns: 1_000 },
    );
  });

  it('throws on a URL that does not parse, and keeps nothing for it', () => {
    expect(() => dispatchTarget('not a url')).toThrow();
    expect(() => dispatchTarget('not a url')).toThrow();
  });
});
