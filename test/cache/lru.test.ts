import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteLru, type EvictReason } from '../../gateway/cache/lru.js';

function clocked(maxBytes: number) {
  const clock = { t: 1_000 };
  const evicted: [string, string, EvictReason][] = [];
  const lru = new ByteLru<string>({ maxBytes, now: () => clock.t, onEvict: (k, v, r) => evicted.push([k, v, r]) });
  return { lru, clock, evicted };
}

const FOREVER = Number.MAX_SAFE_INTEGER;

describe('ByteLru', () => {
  it('evicts the least recently used first when the byte bound is reached', () => {
    const { lru, evicted } = clocked(100);
    expect(lru.set('a', 'A', 40, FOREVER, FOREVER)).toBe(true);
    lru.set('b', 'B', 40, FOREVER, FOREVER);
    expect(lru.bytes).toBe(80);
    lru.set('c', 'C', 40, FOREVER, FOREVER);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.get('b')?.value).toBe('B');
    expect(lru.get('c')?.value).toBe('C');
    expect(lru.bytes).toBe(80);
    expect(lru.size).toBe(2);
    expect(lru.evictions).toBe(1);
    expect(evicted).toEqual([['a', 'A', 'capacity']]);
  });

  it('a read makes an entry the most recently used', () => {
    const { lru } = clocked(100);
    lru.set('a', 'A', 40, FOREVER, FOREVER);
    lru.set('b', 'B', 40, FOREVER, FOREVER);
    lru.get('a');
    lru.set('c', 'C', 40, FOREVER, FOREVER);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')?.value).toBe('A');
  });

  it('evicts as many as it takes for a big entry', () => {
    const { lru } = clocked(100);
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, k, 25, FOREVER, FOREVER);
    lru.set('big', 'X', 90, FOREVER, FOREVER);
    expect(lru.size).toBe(1);
    expect(lru.bytes).toBe(90);
    expect(lru.evictions).toBe(4);
  });

  it('replacing a value accounts its new size, not both, and calls no onEvict', () => {
    const { lru, evicted } = clocked(100);
    lru.set('a', 'A1', 60, FOREVER, FOREVER);
    lru.set('a', 'A2', 30, FOREVER, FOREVER);
    expect(lru.bytes).toBe(30);
    expect(lru.size).toBe(1);
    expect(lru.get('a')?.value).toBe('A2');
    lru.set('b', 'B', 70, FOREVER, FOREVER);
    expect(lru.bytes).toBe(100);
    expect(lru.evictions).toBe(0);
    expect(evicted).toEqual([]);
  });

  it('refuses an entry bigger than the bound and leaves the cache as it was', () => {
    const { lru } = clocked(100);
    lru.set('a', 'A', 50, FOREVER, FOREVER);
    expect(lru.set('huge', 'H', 101, FOREVER, FOREVER)).toBe(false);
    expect(lru.set('a', 'A2', 101, FOREVER, FOREVER)).toBe(false);
    expect(lru.set('x', 'X', -1, FOREVER, FOREVER)).toBe(false);
    expect(lru.set('x', 'X', Number.NaN, FOREVER, FOREVER)).toBe(false);
    expect(lru.set('x', 'X', 1.5, FOREVER, FOREVER)).toBe(false);
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.get('a')?.value).toBe('A');
    expect(lru.bytes).toBe(50);
    expect(lru.set('exact', 'E', 100, FOREVER, FOREVER)).toBe(true);
    expect(lru.size).toBe(1);
  });

  it('goes fresh, then stale, then gone with the clock', () => {
    const { lru, clock, evicted } = clocked(100);
    lru.set('a', 'A', 10, 2_000, 3_000);
    expect(lru.get('a')).toEqual({ value: 'A', storedAtMs: 1_000, fresh: true });
    clock.t = 1_999;
    expect(lru.get('a')?.fresh).toBe(true);
    clock.t = 2_000;
    expect(lru.get('a')).toEqual({ value: 'A', storedAtMs: 1_000, fresh: false });
    clock.t = 2_999;
    expect(lru.get('a')?.fresh).toBe(false);
    clock.t = 3_000;
    expect(lru.get('a')).toBeUndefined();
    expect(lru.bytes).toBe(0);
    expect(lru.size).toBe(0);
    expect(lru.expirations).toBe(1);
    expect(lru.evictions).toBe(0);
    expect(evicted).toEqual([['a', 'A', 'expired']]);
  });

  it('a stale window shorter than the fresh one is the fresh one; one already over is refused', () => {
    const { lru, clock } = clocked(100);
    lru.set('a', 'A', 10, 2_000, 0);
    clock.t = 1_999;
    expect(lru.get('a')?.fresh).toBe(true);
    expect(lru.set('b', 'B', 10, 1_000, 1_999)).toBe(false);
    expect(lru.set('c', 'C', 10, 1_000, 1_000)).toBe(false);
    clock.t = 2_000;
    expect(lru.get('a')).toBeUndefined();
  });

  it('the eviction walk drops expired entries as expired, not as evictions', () => {
    const { lru, clock, evicted } = clocked(100);
    lru.set('old', 'O', 50, 1_500, 1_500);
    lru.set('live', 'L', 40, FOREVER, FOREVER);
    clock.t = 1_600;
    lru.set('new', 'N', 50, FOREVER, FOREVER);
    expect(evicted).toEqual([['old', 'O', 'expired']]);
    expect(lru.expirations).toBe(1);
    expect(lru.evictions).toBe(0);
    expect(lru.get('live')?.value).toBe('L');
  });

  it('prune drops every expired entry and only those', () => {
    const { lru, clock } = clocked(1_000);
    lru.set('a', 'A', 10, 1_500, 1_500);
    lru.set('b', 'B', 10, FOREVER, FOREVER);
    lru.set('c', 'C', 10, 1_200, 1_800);
    clock.t = 1_800;
    expect(lru.prune()).toBe(2);
    expect(lru.size).toBe(1);
    expect(lru.bytes).toBe(10);
  });

  it('delete removes, reports whether it did, and tells onEvict', () => {
    const { lru, evicted } = clocked(100);
    lru.set('a', 'A', 10, FOREVER, FOREVER);
    expect(lru.delete('a')).toBe(true);
    expect(lru.delete('a')).toBe(false);
    expect(lru.bytes).toBe(0);
    expect(evicted).toEqual([['a', 'A', 'deleted']]);
  });

  it('an onEvict that throws leaves the bound intact and every callback still runs', () => {
    const seen: string[] = [];
    const lru = new ByteLru<string>({
      maxBytes: 100,
      onEvict: (k) => {
        seen.push(k);
        throw new Error(`boom ${k}`);
      },
    });
    lru.set('a', 'A', 50, FOREVER, FOREVER);
    lru.set('b', 'B', 50, FOREVER, FOREVER);
    expect(() => lru.set('c', 'C', 100, FOREVER, FOREVER)).toThrow('boom a');
    expect(seen).toEqual(['a', 'b']);
    expect(lru.bytes).toBe(100);
    expect(lru.get('c')?.value).toBe('C');
  });

  it('rejects a bound that is not a number ≥ 0', () => {
    expect(() => new ByteLru({ maxBytes: Number.NaN })).toThrow(RangeError);
    expect(() => new ByteLru({ maxBytes: -1 })).toThrow(RangeError);
  });
});

/** The reference: a list, least recently used first, with the same rules written the plain way. */
interface ModelSlot {
  key: string;
  value: number;
  bytes: number;
  at: number;
  fresh: number;
  stale: number;
}

class Model {
  slots: ModelSlot[] = [];
  now = 0;
  evictions = 0;
  constructor(readonly max: number) {}
  used = () => this.slots.reduce((s, x) => s + x.bytes, 0);
  set(key: string, value: number, bytes: number, fresh: number, stale: number): boolean {
    const st = Math.max(fresh, stale);
    if (bytes > this.max || st <= this.now) return false;
    this.slots = this.slots.filter((s) => s.key !== key);
    this.slots.push({ key, value, bytes, at: this.now, fresh, stale: st });
    while (this.used() > this.max) {
      const lru = this.slots.shift();
      if (lru !== undefined && this.now < lru.stale) this.evictions++;
    }
    return true;
  }
  get(key: string): { value: number; storedAtMs: number; fresh: boolean } | undefined {
    const i = this.slots.findIndex((s) => s.key === key);
    const s = this.slots[i];
    if (s === undefined) return undefined;
    this.slots.splice(i, 1);
    if (this.now >= s.stale) return undefined;
    this.slots.push(s);
    return { value: s.value, storedAtMs: s.at, fresh: this.now < s.fresh };
  }
  delete(key: string): boolean {
    const before = this.slots.length;
    this.slots = this.slots.filter((s) => s.key !== key);
    return this.slots.length < before;
  }
}

const keyArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), key: keyArb, bytes: fc.nat({ max: 70 }), fresh: fc.nat({ max: 50 }), stale: fc.nat({ max: 100 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: keyArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.nat({ max: 40 }) }) },
);

describe('ByteLru against a reference model', () => {
  it('agrees with the model on every result, and never holds more than maxBytes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.array(op, { maxLength: 60 }), (max, ops) => {
        const model = new Model(max);
        const lru = new ByteLru<number>({ maxBytes: max, now: () => model.now });
        ops.forEach((o, i) => {
          if (o.op === 'set') expect(lru.set(o.key, i, o.bytes, model.now + o.fresh, model.now + o.stale)).toBe(model.set(o.key, i, o.bytes, model.now + o.fresh, model.now + o.stale));
          else if (o.op === 'get') expect(lru.get(o.key)).toEqual(model.get(o.key));
          else if (o.op === 'delete') expect(lru.delete(o.key)).toBe(model.delete(o.key));
          else model.now += o.ms;
          expect(lru.bytes).toBeLessThanOrEqual(max);
        });
        // Entries still held agree too: read every key once, in a fixed order, on both sides.
        for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) expect(lru.get(k)).toEqual(model.get(k));
        expect(lru.bytes).toBe(model.used());
        expect(lru.size).toBe(model.slots.length);
        expect(lru.evictions).toBe(model.evictions);
      }),
      { numRuns: 500 },
    );
  });
});
