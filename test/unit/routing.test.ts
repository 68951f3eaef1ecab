import { describe, expect, it } from 'vitest';
import { pickWeighted } from '../../gateway/routing/weighted.js';

/** A deterministic source of [0,1) values. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
}

describe('pickWeighted', () => {
  const items = [
    { id: 'a', w: 70 },
    { id: 'b', w: 30 },
    { id: 'c', w: 0 },
  ];
  const pick = (r: number) => pickWeighted(items, (i) => i.w, () => r)?.id;

  it('maps the random draw onto cumulative weights', () => {
    expect(pick(0)).toBe('a');
    expect(pick(0.699)).toBe('a');
    expect(pick(0.7)).toBe('b');
    expect(pick(0.999)).toBe('b');
  });

  it('never picks a zero-weight item while others have weight', () => {
    const seen = new Set<string>();
    const rand = sequence([0, 0.1, 0.5, 0.69, 0.7, 0.9, 0.9999]);
    for (let i = 0; i < 7; i++) seen.add(pickWeighted(items, (x) => x.w, rand)?.id ?? '');
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('falls back to a uniform choice when every weight is zero', () => {
    const zero = items.map((i) => ({ ...i, w: 0 }));
    expect(pickWeighted(zero, (i) => i.w, () => 0.99)?.id).toBe('c');
    expect(pickWeighted(zero, (i) => i.w, () => 0)?.id).toBe('a');
  });

  it('handles empty and single lists', () => {
    expect(pickWeighted([], () => 1)).toBeUndefined();
    expect(pickWeighted(['x'], () => 0)).toBe('x');
  });

  it('converges on the configured split', () => {
    let seed = 1;
    const lcg = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let a = 0;
    for (let i = 0; i < 10_000; i++) if (pickWeighted(items, (x) => x.w, lcg)?.id === 'a') a++;
    expect(a / 10_000).toBeGreaterThan(0.67);
    expect(a / 10_000).toBeLessThan(0.73);
  });
});
