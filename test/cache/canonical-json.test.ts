import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../gateway/cache/canonical-json.js';
import { anyValue } from '../property/arbitraries.js';
import { canonicalJsonBefore } from './canonical-json-before.js';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;
const json = fc.jsonValue({ maxDepth: 4 }).map(viaJson);

describe('canonicalJson', () => {
  it('is valid JSON of the same value for any JSON value', () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(v);
      }),
      { numRuns: 1_000 },
    );
  });

  it('two JSON values print the same exactly when they are equal up to key order', () => {
    const pair = fc.oneof(fc.tuple(json, json), json.map((v) => [v, v] as const));
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(canonicalJson(a) === canonicalJson(b)).toBe(isDeepStrictEqual(a, b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('does not depend on key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [1, { x: 1, y: 2 }] }, b: 1 }));
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('keeps apart what JSON.stringify merges', () => {
    const distinct = [null, Number.NaN, Infinity, -Infinity, [undefined], [null], 'null', '\ud800', '\udc00'];
    const printed = distinct.map(canonicalJson);
    expect(new Set(printed).size).toBe(distinct.length);
    // An absent field and one set to undefined are the same; -0 is 0.
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson(-0)).toBe(canonicalJson(0));
  });

  it('never throws: cycles, deep nesting, null prototypes, sparse arrays, bigints, symbols', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const sparse: unknown[] = [1];
    sparse[2] = 3;
    const odd = [cyclic, deep, Object.create(null) as unknown, sparse, 10n, Symbol('s'), () => 1];
    for (const v of odd) expect(typeof canonicalJson(v)).toBe('string');
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(typeof canonicalJson(v)).toBe('string');
      }),
      { numRuns: 1_000 },
    );
  });

  it('prints exactly what the implementation before issue 18 printed (cache keys unchanged)', () => {
    // Keys that sort differently as numbers and as text, non-ASCII and astral keys, many keys (the builtin sort's path).
    const keyName = fc.oneof(fc.string({ maxLength: 4 }), fc.nat({ max: 120 }).map(String), fc.constantFrom('é', 'z', 'Z', '\ud83d\ude00', '\uffff', '__proto__x'));
    const wide = fc.dictionary(keyName, fc.jsonValue({ maxDepth: 2 }), { minKeys: 30, maxKeys: 45 });
    const value = fc.oneof(anyValue, json, fc.dictionary(keyName, json, { maxKeys: 8 }), wide, fc.array(wide, { maxLength: 2 }));
    fc.assert(
      fc.property(value, (v) => {
        expect(canonicalJson(v)).toBe(canonicalJsonBefore(v));
      }),
      { numRuns: 3_000 },
    );
    const cyclic: Record<string, unknown> = { b: [1], a: 1 };
    cyclic.self = cyclic;
    (cyclic.b as unknown[]).push(cyclic, { again: cyclic });
    const shared = { x: 1 };
    let deep: unknown = 'x';
    for (let i = 0; i < 300; i++) deep = i % 2 === 0 ? [deep] : { k: deep };
    for (const v of [cyclic, [shared, shared], deep, Object.create(null) as unknown, 10n, Symbol('s')]) expect(canonicalJson(v)).toBe(canonicalJsonBefore(v));
  });
});

