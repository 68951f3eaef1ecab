import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extend } from '../../gateway/objects.js';

const dist = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'dist', 'gateway', 'objects.js');

const key = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'a', 'b', '0', '1', 'model'), fc.string({ maxLength: 6 }));
const value = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(undefined), fc.constant(null));
/** Objects as JSON.parse and object literals make them: own data properties, `__proto__` among them. */
const record = fc.array(fc.tuple(key, value), { maxLength: 8 }).map((entries) => Object.fromEntries(entries) as Record<string, unknown>);

describe('extend', () => {
  it('is { ...base, ...over }: the same own keys, in the same order, with the same values, and the same prototype', () => {
    fc.assert(
      fc.property(record, record, (base, over) => {
        const got = extend(base, over);
        const want = { ...base, ...over };
        expect(Reflect.ownKeys(got)).toEqual(Reflect.ownKeys(want));
        for (const k of Reflect.ownKeys(want)) expect(Object.getOwnPropertyDescriptor(got, k)).toEqual(Object.getOwnPropertyDescriptor(want, k));
        expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
        expect(JSON.stringify(got)).toBe(JSON.stringify(want));
      }),
      { numRuns: 500 },
    );
  });

  it("copies a caller's own \"__proto__\" key as a key, never as the copy's prototype", () => {
    const hostile = JSON.parse('{"model":"m","__proto__":{"polluted":true}}') as Record<string, unknown>;
    const out = extend(hostile, { stream: true });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"model":"m","__proto__":{"polluted":true},"stream":true}');
  });

  it('leaves both inputs as they were', () => {
    const base = { a: 1, b: { c: 2 } };
    const over = { b: { c: 3 }, d: 4 };
    const out = extend(base, over);
    expect(out).toEqual({ a: 1, b: { c: 3 }, d: 4 });
    expect(base).toEqual({ a: 1, b: { c: 2 } });
    expect(over).toEqual({ b: { c: 3 }, d: 4 });
  });

  // The reason extend exists (gateway/objects.ts): V8 must be able to give its results one
  // hidden class once the caller is optimised. %HaveSameMap needs --allow-natives-syntax, so the
  // check runs in a child on the built module; the spread it replaces is printed for comparison.
  it('gives optimised code one hidden class for the objects it builds', () => {
    const script = `
      const { extend } = await import(${JSON.stringify(dist)});
      const make = (i) => { const a = { route: 'r', status: 200 + (i & 1), model: 'm' }; if (i & 2) a.extra = i; return a; };
      const same = (f) => { let prev, hits = 0, n = 0; for (let i = 0; i < 100000; i++) { const o = f(make(i & ~2)); if (i >= 90000) { n++; if (%HaveSameMap(prev, o)) hits++; } prev = o; } return hits / n; };
      console.log(JSON.stringify({ extend: same((a) => extend(a, { type: 'input' })), spread: same((a) => ({ ...a, type: 'input' })) }));`;
    const child = spawnSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.stderr).toBe('');
    const out = JSON.parse(child.stdout) as { extend: number; spread: number };
    expect(out.extend).toBe(1);
  }, 40_000);
});
