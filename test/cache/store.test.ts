import { describe, expect, it } from 'vitest';
import { encodeEntry, entryBytes, type CacheEntry } from '../../gateway/cache/entry.js';
import { CacheStore } from '../../gateway/cache/store.js';

const entry = (i: number, now: number): CacheEntry => ({
  v: 1,
  provider: 'p',
  storedAtMs: now,
  ttlMs: 60_000,
  response: { id: `r-${i}`, model: 'm', created: 0, choices: [{ index: 0, content: [{ type: 'text', text: `answer number ${i}` }], finishReason: 'stop' }], usage: { inputTokens: 3, outputTokens: 3 } },
});

describe('CacheStore memory bound', () => {
  it('counts each entry as its text, its key and its slot, so max_bytes bounds what is held', () => {
    const now = 1_000_000;
    const key = (i: number) => `k`.repeat(64) + String(i).padStart(6, '0');
    const one = entryBytes(encodeEntry(entry(0, now))) + key(0).length;
    // Room for 10 entries counted as text and key alone: with the slot counted, fewer fit.
    const store = new CacheStore({ maxBytes: 10 * one, maxEntryBytes: 1 << 20, now: () => now });
    for (let i = 0; i < 100; i++) store.put(key(i), entry(i, now), 0);
    const stats = store.stats();
    expect(stats.bytes).toBeLessThanOrEqual(10 * one);
    expect(stats.entries).toBeLessThan(10);
    expect(stats.entries).toBeGreaterThan(0);
    expect(stats.evictions).toBe(100 - stats.entries);
  });

  it('an entry kept as text reads back as the entry stored', async () => {
    const now = 5_000;
    const store = new CacheStore({ maxBytes: 1 << 20, maxEntryBytes: 1 << 20, now: () => now });
    store.put('a', entry(7, now), 0);
    const found = await store.lookup('a', 0);
    expect(found?.entry).toEqual(entry(7, now));
    expect(found?.fresh).toBe(true);
  });
});
