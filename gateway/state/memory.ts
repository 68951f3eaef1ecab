import type { SharedState, StateHealth } from './types.js';

interface Entry {
  value: string;
  expiresAt: number;
}

/** Expired entries are swept once the map has grown by this many since the last sweep: bounded, and cheap per call. */
const SWEEP_EVERY = 1024;

/**
 * The in-process backend: one replica's state in a Map. Every operation is synchronous inside,
 * so each is atomic like its Redis script; the clock is injected so tests compress time.
 */
export class MemoryState implements SharedState {
  readonly backend = 'memory' as const;
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;
  #sweepAt = SWEEP_EVERY;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  health(): StateHealth {
    return { backend: 'memory', degraded: false, since: undefined, fallbacks: 0, pendingResync: 0 };
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt > this.#now()) return e;
    this.#entries.delete(key);
    return undefined;
  }

  #put(key: string, value: string, expiresAt: number): void {
    this.#entries.set(key, { value, expiresAt });
    if (this.#entries.size < this.#sweepAt) return;
    const now = this.#now();
    for (const [k, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(k);
    this.#sweepAt = this.#entries.size + SWEEP_EVERY;
  }

  incr(key: string, by: number, ttlMs: number): Promise<number> {
    const e = this.#live(key);
    const total = (e === undefined ? 0 : Number(e.value)) + by;
    this.#put(key, String(total), e?.expiresAt ?? this.#now() + ttlMs);
    return Promise.resolve(total);
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#live(key)?.value);
  }

  getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return Promise.resolve(keys.map((k) => this.#live(k)?.value));
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve();
  }

  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    if (this.#live(key)?.value !== expected) return Promise.resolve(false);
    this.#put(key, value, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const held = this.#live(name)?.value;
    if (held !== undefined && held !== owner) return Promise.resolve(false);
    this.#put(name, owner, this.#now() + ttlMs);
    return Promise.resolve(true);
  }

  release(name: string, owner: string): Promise<void> {
    if (this.#live(name)?.value === owner) this.#entries.delete(name);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#entries.clear();
    return Promise.resolve();
  }
}
