/**
 * `{ ...base, ...over }`, built so that V8 can reuse the result's hidden class.
 *
 * Why: in V8 11 (Node 20), optimised code that copies an object with spread and then adds
 * anything to the copy (`{ ...a, k: v }`, `{ ...a, ...b }`, or `o = { ...a }; o.k = v`) gives
 * every result a hidden class of its own. Each one is a new map in the old generation, every
 * inline cache that meets the objects turns megamorphic, and what the maps point to (their
 * descriptor arrays, the key lists `Object.keys` and for-in cache on them) survives young
 * collections through the dead maps and is promoted (bench/reading.md, session 5: ~1 MB
 * promoted per scavenge by the metrics' token attributes alone, in a loop that promoted 1 KB
 * without them; 0.87 against 0.06 µs for a five-key copy plus one key). A copy that starts
 * from an empty literal takes the ordinary map transitions, which V8 caches.
 *
 * `Object.assign` sets where spread defines, so an own `__proto__` key (JSON.parse makes one
 * from a caller's `"__proto__"`) would set the copy's prototype instead of being copied: such
 * an object takes the spread, slower but exact.
 */
export function extend<A extends object, B extends object>(base: A, over: B): Spread<A, B> {
  if (Object.hasOwn(base, '__proto__') || Object.hasOwn(over, '__proto__')) return { ...base, ...over } as Spread<A, B>;
  return Object.assign(Object.assign({}, base), over) as Spread<A, B>;
}

/** The keys `T` may lack. */
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/**
 * The type TypeScript gives `{ ...A, ...B }`: B's required keys as B has them; a key optional in B
 * is A's type or B's when A has it too (an absent key leaves A's), B's otherwise.
 */
export type Spread<A, B> = {
  [K in keyof A | keyof B]: K extends Exclude<keyof B, OptionalKeys<B>>
    ? B[K]
    : K extends keyof B
      ? K extends keyof A
        ? A[K] | Exclude<B[K], undefined>
        : B[K]
      : K extends keyof A
        ? A[K]
        : never;
};
