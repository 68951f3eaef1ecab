import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExpiryQueue } from '../../gateway/cache/expiry-queue.js';
import { SemanticIndex } from '../../gateway/cache/semantic.js';

/** A unit vector along axis `i` of `dims`: every pair of them is dissimilar (cosine 0). */
function axis(i: number, dims: number): Float32Array {
  const v = new Float32Array(dims);
  v[i] = 1;
  return v;
}

describe('ExpiryQueue', () => {
  it('pops the soonest pair still current, whatever the order of pushes and lazy removals', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), id: fc.integer({ min: 0, max: 20 }), at: fc.integer({ min: 0, max: 50 }) }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('rebuild' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const q = new ExpiryQueue();
        // The owner's truth, as the semantic index keeps it: each id's one current expiry.
        const live = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'push') {
            live.set(String(o.id), o.at);
            q.push(String(o.id), o.at);
          } else if (o.kind === 'remove') live.delete(String(o.id));
          else if (o.kind === 'rebuild') q.rebuild(live);
          else {
            const soonest = Math.min(...live.values());
            const got = q.pop((id, at) => live.get(id) === at);
            if (live.size === 0) expect(got).toBeUndefined();
            else {
              expect(got).toBeDefined();
              expect(live.get(got ?? '')).toBe(soonest);
              live.delete(got ?? '');
            }
          }
        }
      }),
    );
  });
});

describe('SemanticIndex bound (cache.max_vectors)', () => {
  it('holds at most maxVectors, evicting the soonest to expire of the partition', async () => {
    const dims = 8;
    const index = new SemanticIndex({ maxVectors: 3, dims, now: () => 1_000 });
    const lifetimes = [50, 10, 40, 30, 20];
    lifetimes.forEach((ms, i) => index.add('p', `k${i}`, axis(i, dims), ms));
    expect(index.size).toBe(3);
    const kept: string[] = [];
    for (let i = 0; i < lifetimes.length; i++) {
      const hit = await index.find('p', axis(i, dims), 0.99);
      if (hit !== undefined) kept.push(hit.key);
    }
    // k1 (10 ms) went when k3 arrived; k4 (20 ms) was the soonest to expire on its own arrival.
    expect(kept).toEqual(['k0', 'k2', 'k3']);
  });

  it('re-adding an id keeps one vector for it and its new expiry decides its turn', async () => {
    const dims = 8;
    const index = new SemanticIndex({ maxVectors: 2, dims, now: () => 1_000 });
    index.add('p', 'a', axis(0, dims), 10);
    index.add('p', 'b', axis(1, dims), 20);
    index.add('p', 'a', axis(0, dims), 100);
    expect(index.size).toBe(2);
    index.add('p', 'c', axis(2, dims), 50);
    expect(index.size).toBe(2);
    expect((await index.find('p', axis(1, dims), 0.99))?.key).toBeUndefined();
    expect((await index.find('p', axis(0, dims), 0.99))?.key).toBe('a');
    expect((await index.find('p', axis(2, dims), 0.99))?.key).toBe('c');
  });
});
