/**
 * The in-process response cache: an LRU bounded in bytes (entries vary from a one-word answer
 * to a long tool-calling transcript, so a count bound says nothing about memory), with a fresh
 * window and a stale window per entry (a stale entry may be served while a refresh is bought).
 *
 * Recency is a doubly linked list through the slots, least recently used first; the Map only
 * finds a slot. (It was the Map's own insertion order, re-inserting on access and walking from its
 * front to evict: V8 leaves a deleted Map entry as a hole until the table is rehashed, so at
 * ~100,000 entries every eviction first stepped over tens of thousands of holes, ~40 µs an insert
 * against ~3 µs now, measured; bench:stages-cost showed the exact cache's miss path costing the
 * gateway 0.05–0.14 ms a request once full.) Expired entries are dropped lazily, when read or when
 * the eviction walk reaches them; `prune()` sweeps them all, for an owner that wants to on a timer.
 */

export type EvictReason = 'capacity' | 'expired' | 'deleted';

export interface LruOptions<V> {
  maxBytes: number;
  now?: () => number;
  /** Called once for every entry that leaves the cache (not when set replaces a value in place). */
  onEvict?: (key: string, value: V, reason: EvictReason) => void;
}

export interface LruHit<V> {
  value: V;
  storedAtMs: number;
  /** false: past its fresh window, inside its stale window. */
  fresh: boolean;
}

interface Slot<V> {
  readonly sentinel: false;
  key: string;
  value: V;
  bytes: number;
  storedAtMs: number;
  freshUntilMs: number;
  staleUntilMs: number;
  /** Towards the least recently used end; the list's head when this is the first. */
  older: Slot<V> | Head<V>;
  /** Towards the most recently used end; the head when this is the last. */
  newer: Slot<V> | Head<V>;
}

/** The list's sentinel: `newer` is the least recently used slot, `older` the most recently used (itself both when empty). */
class Head<V> {
  readonly sentinel = true;
  older: Slot<V> | Head<V> = this;
  newer: Slot<V> | Head<V> = this;
}

export class ByteLru<V> {
  readonly maxBytes: number;
  private readonly now: () => number;
  private readonly onEvict: LruOptions<V>['onEvict'];
  private readonly slots = new Map<string, Slot<V>>();
  private readonly head = new Head<V>();
  private used = 0;
  private evicted = 0;
  private expired = 0;
  private readonly dropped: { key: string; value: V; reason: EvictReason }[] = [];

  constructor(o: LruOptions<V>) {
    if (!(o.maxBytes >= 0) || !Number.isFinite(o.maxBytes)) throw new RangeError(`maxBytes must be a finite number ≥ 0, got ${o.maxBytes}`);
    this.maxBytes = o.maxBytes;
    this.now = o.now ?? Date.now;
    this.onEvict = o.onEvict;
  }

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.slots.size;
  }

  /** Entries dropped to make room (the number a cache-pressure alert watches). */
  get evictions(): number {
    return this.evicted;
  }

  /** Entries dropped because their stale window had passed. */
  get expirations(): number {
    return this.expired;
  }

  /**
   * Stores `value` as the most recently used entry, replacing any under `key`. Returns false,
   * leaving the cache as it was, when the entry could never be kept: bigger than maxBytes (it
   * would evict everything and still not fit), a size that is not an integer ≥ 0, or a stale
   * window already over. A stale window shorter than the fresh one is the fresh one.
   */
  set(key: string, value: V, bytes: number, freshUntilMs: number, staleUntilMs: number): boolean {
    const now = this.now();
    const staleUntil = Math.max(freshUntilMs, staleUntilMs);
    if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > this.maxBytes || !(staleUntil > now)) return false;
    const old = this.slots.get(key);
    if (old !== undefined) {
      this.unlink(old);
      this.used -= old.bytes;
    }
    const slot: Slot<V> = { sentinel: false, key, value, bytes, storedAtMs: now, freshUntilMs, staleUntilMs: staleUntil, older: this.head, newer: this.head };
    this.slots.set(key, slot);
    this.append(slot);
    this.used += bytes;
    this.shrink(now);
    this.notify();
    return true;
  }

  /** The entry under `key`, now the most recently used; an entry past its stale window is dropped. */
  get(key: string): LruHit<V> | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    const now = this.now();
    if (now >= slot.staleUntilMs) {
      this.drop(key, slot, 'expired');
      this.notify();
      return undefined;
    }
    this.unlink(slot);
    this.append(slot);
    return { value: slot.value, storedAtMs: slot.storedAtMs, fresh: now < slot.freshUntilMs };
  }

  delete(key: string): boolean {
    const slot = this.slots.get(key);
    if (slot === undefined) return false;
    this.drop(key, slot, 'deleted');
    this.notify();
    return true;
  }

  /** Drops every entry past its stale window; returns how many. */
  prune(): number {
    const now = this.now();
    let n = 0;
    for (const [key, slot] of this.slots) {
      if (now >= slot.staleUntilMs) {
        this.drop(key, slot, 'expired');
        n++;
      }
    }
    this.notify();
    return n;
  }

  /** Least recently used first until the bound holds; expired ones on the way count as expired. */
  private shrink(now: number): void {
    while (this.used > this.maxBytes) {
      const slot = this.head.newer;
      if (slot.sentinel) return;
      this.drop(slot.key, slot, now >= slot.staleUntilMs ? 'expired' : 'capacity');
    }
  }

  /** Makes `slot` the most recently used. */
  private append(slot: Slot<V>): void {
    const last = this.head.older;
    slot.older = last;
    slot.newer = this.head;
    last.newer = slot;
    this.head.older = slot;
  }

  private unlink(slot: Slot<V>): void {
    slot.older.newer = slot.newer;
    slot.newer.older = slot.older;
  }

  private drop(key: string, slot: Slot<V>, reason: EvictReason): void {
    this.slots.delete(key);
    this.unlink(slot);
    this.used -= slot.bytes;
    if (reason === 'capacity') this.evicted++;
    else if (reason === 'expired') this.expired++;
    if (this.onEvict !== undefined) this.dropped.push({ key, value: slot.value, reason });
  }

  /**
   * Tells onEvict about the entries dropped, once the cache is consistent again: a callback that
   * throws must not leave the byte bound broken halfway through an eviction walk. Every callback
   * runs; the first error is rethrown after them.
   */
  private notify(): void {
    if (this.onEvict === undefined || this.dropped.length === 0) return;
    const batch = this.dropped.splice(0);
    let failure: { error: unknown } | undefined;
    for (const d of batch) {
      try {
        this.onEvict(d.key, d.value, d.reason);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
