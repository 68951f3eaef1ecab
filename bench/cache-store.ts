import { CacheStore } from '../gateway/cache/store.js';
import type { CacheEntry } from '../gateway/cache/entry.js';
import { SemanticIndex } from '../gateway/cache/semantic.js';
import { machineLine } from './lib/machine.js';
import { pinSelf } from './lib/proc.js';
import { median, medianRange, table } from './lib/stats.js';

/**
 * The in-process cache tiers at capacity, in process: CPU per operation of the exact cache's store
 * (a miss's put, which evicts the least recently used entry, and a hit's lookup) and of the
 * semantic index's add past cache.max_vectors (which evicts a vector), with 1,000 to 200,000 held.
 * An operation that costs the same at every size is O(1) (or O(log n)) in what the cache holds;
 * one that grows with it is a scan. Sizes interleaved, REPEATS rounds, median (min–max).
 * Usage: npm run bench:cache-store  (BENCH_REPEATS, default 5)
 */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const SIZES = [1_000, 10_000, 100_000, 200_000];
const OPS = 20_000;
const DIMS = 8;

function entry(i: number): CacheEntry {
  return {
    v: 1,
    response: { id: `chatcmpl-${i}`, model: 'fast', created: 1_733_300_000, choices: [{ index: 0, content: [{ type: 'text', text: `Answer number ${i}, twelve tokens from the stand-in.` }], finishReason: 'stop' }], usage: { inputTokens: 12, outputTokens: 12 } },
    provider: 'up',
    storedAtMs: Date.now(),
    ttlMs: 300_000,
    costUsd: 0.00001,
  };
}

const key = (i: number): string => (Math.imul(i, 2654435761) >>> 0).toString(16).padStart(64, '0') + String(i);

/** µs of CPU per call of `f`, OPS calls. */
function cpuPer(f: (i: number) => void, from: number): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < OPS; i++) f(from + i);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / OPS;
}

/** An exact store holding `n` entries, full: its byte bound fits them and no more. */
function fullStore(n: number): { store: CacheStore; next: number } {
  const probe = new CacheStore({ maxBytes: 1 << 30, maxEntryBytes: 1 << 20 });
  probe.put(key(0), entry(0), 0);
  const perEntry = probe.stats().bytes;
  const store = new CacheStore({ maxBytes: perEntry * n + perEntry / 2, maxEntryBytes: 1 << 20 });
  for (let i = 0; i < n; i++) store.put(key(i), entry(i), 0);
  // Then as long again past the bound: a store that has been evicting a while, as a gateway's is.
  for (let i = n; i < 2 * n; i++) store.put(key(i), entry(i), 0);
  return { store, next: 2 * n };
}

function axis(i: number): Float32Array {
  const v = new Float32Array(DIMS);
  v[i % DIMS] = 1;
  const j = (i >> 3) % DIMS;
  v[j] = (v[j] ?? 0) + 0.5;
  return v;
}

async function main(): Promise<void> {
  pinSelf();
  const put = new Map<number, number[]>();
  const hit = new Map<number, number[]>();
  const vec = new Map<number, number[]>();
  for (let r = 0; r < REPEATS; r++) {
    for (const n of SIZES) {
      process.stderr.write(`bench cache-store: round ${r + 1}/${REPEATS}, ${n} entries…\n`);
      const { store, next } = fullStore(n);
      put.set(n, [...(put.get(n) ?? []), cpuPer((i) => void store.put(key(i), entry(i), 0), next)]);
      // The newest entries are the ones held (entries grow a few bytes with i, so a little fewer than n fit).
      const kept = Math.min(store.stats().entries, OPS);
      const held = next + OPS - kept;
      const c0 = process.cpuUsage();
      let missed = 0;
      for (let i = 0; i < OPS; i++) if ((await store.lookup(key(held + (i % kept)), 0)) === undefined) missed++;
      const c = process.cpuUsage(c0);
      // The column says "hit": a lookup that missed would time something else.
      if (missed > 0) throw new Error(`bench cache-store: ${missed} of ${OPS} lookups missed at ${n} entries held`);
      hit.set(n, [...(hit.get(n) ?? []), (c.user + c.system) / OPS]);
      const index = new SemanticIndex({ maxVectors: n, dims: DIMS });
      for (let i = 0; i < n; i++) index.add('p', key(i), axis(i), 300_000 + i);
      vec.set(n, [...(vec.get(n) ?? []), cpuPer((i) => index.add('p', key(i), axis(i), 300_000 + i), n)]);
      if (index.size > n) throw new Error(`bench cache-store: the semantic index holds ${index.size} vectors past its bound of ${n}`);
    }
  }
  const rows = SIZES.map((n) => [n.toLocaleString('en-US'), medianRange(put.get(n) ?? [], 2), medianRange(hit.get(n) ?? [], 2), medianRange(vec.get(n) ?? [], 2)]);
  const ratio = (m: Map<number, number[]>) => (median(m.get(SIZES.at(-1) ?? 0) ?? []) / median(m.get(SIZES[0] ?? 0) ?? [])).toFixed(2);
  process.stdout.write(
    [
      '## The cache tiers at capacity, in process (`npm run bench:cache-store`)',
      '',
      machineLine(),
      '',
      `CPU µs per operation, ${OPS.toLocaleString('en-US')} operations per cell on a full tier that has already evicted as many entries as it holds; sizes interleaved, ${REPEATS} rounds, median (min–max). Exact store: a put of a new entry (~330 B encoded; evicts the least recently used) and a lookup that hits (decodes the entry). Semantic index: an add past cache.max_vectors (= the size; ${DIMS}-dimension vectors, so the eviction, not the HNSW insert, is what grows).`,
      '',
      table(['entries held', 'exact put µs', 'exact hit µs', 'semantic add µs'], rows),
      '',
      `Largest / smallest size, same run: put ${ratio(put)}×, hit ${ratio(hit)}×, semantic add ${ratio(vec)}× (a scan over what is held would be ~200×).`,
      '',
    ].join('\n'),
  );
}

await main();
