import type { SharedState } from '../state/types.js';
import { ExpiryQueue } from './expiry-queue.js';
import { createVectorIndex, type VectorIndex } from './vector-index.js';

/**
 * The semantic cache's index (issue 16 §2): per partition (route, namespace, tools signature:
 * a match never crosses tenants or tool sets) an in-memory HNSW index from a vector to the
 * exact-cache key of the answer it found; the answer itself stays in the exact tier.
 *
 * Shared across replicas through the shared state's counters and values alone: each partition
 * has a sequence counter, and vector i of it is stored under `…:<i>` with the entry's lifetime.
 * A replica that looks up in a partition catches up from the last sequence it read (one GET of
 * the counter, one MGET of what is new), at most every SYNC_MS, and waits for that only the
 * first time it meets the partition. So a paraphrase answered on one replica is a hit on the
 * others within SYNC_MS. With in-process state (one replica) there is nothing to share.
 */
const SYNC_MS = 200;
/** Vectors read per catch-up round trip. */
const BATCH = 256;
/**
 * An HNSW insert at 100,000 × 1,536 takes ~0.8 ms of this thread: a catch-up yields to the event
 * loop every YIELD_EVERY vectors (~25 ms), so a replica joining a large partition keeps serving.
 */
const YIELD_EVERY = 32;
/** The first lookup in a partition waits this long for the catch-up, then goes on (a miss) while it completes. */
const FIRST_WAIT_MS = 100;

interface Partition {
  index: VectorIndex;
  /** id → exact key and when it stops answering. */
  meta: Map<string, { key: string; untilMs: number }>;
  /** Exact keys indexed, so a vector read back from the shared state is not indexed twice. */
  keys: Set<string>;
  /** The ids by untilMs, for eviction (entries removed or re-added stay until they surface). */
  expiry: ExpiryQueue;
  seen: number;
  syncedAt: number;
  syncing: Promise<void> | undefined;
}

export interface SemanticOptions {
  dims?: number;
  /** Vectors kept per process, all partitions together; the oldest go first. */
  maxVectors: number;
  shared?: SharedState;
  now?: () => number;
}

export interface SemanticHit {
  key: string;
  similarity: number;
}

const PREFIX = 'cache:sem:';

export class SemanticIndex {
  readonly #parts = new Map<string, Partition>();
  readonly #o: SemanticOptions;
  readonly #now: () => number;
  #count = 0;

  constructor(o: SemanticOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  get size(): number {
    return this.#count;
  }

  /** The nearest stored answer at or above `threshold`, after catching up with the other replicas. */
  async find(partition: string, vector: Float32Array, threshold: number): Promise<SemanticHit | undefined> {
    const p = this.#part(partition, vector.length);
    await this.#sync(partition, p);
    const now = this.#now();
    for (const hit of p.index.search(vector, 4)) {
      const m = p.meta.get(hit.id);
      if (m === undefined) continue;
      if (m.untilMs <= now) {
        this.#remove(p, hit.id);
        continue;
      }
      if (hit.similarity >= threshold) return { key: m.key, similarity: hit.similarity };
    }
    return undefined;
  }

  /** Indexes a stored answer here, and shares its vector (in the background: the caller has its answer). */
  add(partition: string, key: string, vector: Float32Array, lifetimeMs: number): void {
    const p = this.#part(partition, vector.length);
    const untilMs = this.#now() + lifetimeMs;
    this.#put(p, key, key, vector, untilMs);
    const shared = this.#o.shared;
    if (shared === undefined) return;
    void (async () => {
      const seq = await shared.incr(`${PREFIX}${partition}:seq`, 1, 7 * 86_400_000);
      await shared.set(`${PREFIX}${partition}:${seq}`, JSON.stringify({ key, untilMs, v: Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64') }), lifetimeMs);
    })().catch(() => undefined);
  }

  #part(name: string, dims: number): Partition {
    let p = this.#parts.get(name);
    if (p === undefined) {
      p = { index: createVectorIndex(this.#o.dims ?? dims), meta: new Map(), keys: new Set(), expiry: new ExpiryQueue(), seen: 0, syncedAt: -Infinity, syncing: undefined };
      this.#parts.set(name, p);
    }
    return p;
  }

  #put(p: Partition, id: string, key: string, vector: Float32Array, untilMs: number): void {
    if (vector.length !== p.index.dims) return;
    if (p.keys.has(key) && !p.meta.has(id)) return;
    if (!p.meta.has(id)) this.#count++;
    p.index.add(id, vector);
    p.meta.set(id, { key, untilMs });
    p.keys.add(key);
    p.expiry.push(id, untilMs);
    if (this.#count > this.#o.maxVectors) this.#evictOldest(p);
    if (p.expiry.length > 2 * p.meta.size + 64) p.expiry.rebuild([...p.meta].map(([i, m]) => [i, m.untilMs]));
  }

  /** The soonest to expire of this partition goes (a whole-process LRU would cost a list per vector). */
  #evictOldest(p: Partition): void {
    const worst = p.expiry.pop((id, at) => p.meta.get(id)?.untilMs === at);
    if (worst !== undefined) this.#remove(p, worst);
  }

  #remove(p: Partition, id: string): void {
    const m = p.meta.get(id);
    if (m !== undefined) p.keys.delete(m.key);
    if (p.meta.delete(id)) this.#count--;
    p.index.remove(id);
  }

  async #sync(name: string, p: Partition): Promise<void> {
    const shared = this.#o.shared;
    if (shared === undefined || this.#now() - p.syncedAt < SYNC_MS) return;
    const first = p.syncedAt === -Infinity;
    p.syncing ??= this.#catchUp(shared, name, p).finally(() => {
      p.syncing = undefined;
    });
    if (first) await Promise.race([p.syncing, new Promise((r) => setTimeout(r, FIRST_WAIT_MS).unref())]);
  }

  async #catchUp(shared: SharedState, name: string, p: Partition): Promise<void> {
    p.syncedAt = this.#now();
    const top = Number((await shared.get(`${PREFIX}${name}:seq`).catch(() => undefined)) ?? 0);
    while (p.seen < top) {
      const ids = Array.from({ length: Math.min(BATCH, top - p.seen) }, (_, i) => p.seen + 1 + i);
      const values = await shared.getMany(ids.map((i) => `${PREFIX}${name}:${i}`)).catch(() => undefined);
      if (values === undefined) return;
      for (const [i, v] of values.entries()) {
        this.#ingest(p, `${name}:${ids[i] ?? 0}`, v);
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise((r) => setImmediate(r));
      }
      p.seen += ids.length;
    }
  }

  /** A shared vector as found in Redis: anything malformed is skipped, never trusted. */
  #ingest(p: Partition, id: string, text: string | undefined): void {
    if (text === undefined) return;
    try {
      const o = JSON.parse(text) as { key?: unknown; untilMs?: unknown; v?: unknown };
      if (typeof o.key !== 'string' || typeof o.untilMs !== 'number' || typeof o.v !== 'string' || o.untilMs <= this.#now()) return;
      const buf = Buffer.from(o.v, 'base64');
      if (buf.byteLength !== p.index.dims * 4) return;
      const vector = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      // Our own vectors come back too: indexed once, under their key.
      if (p.keys.has(o.key)) return;
      this.#put(p, id, o.key, vector, o.untilMs);
    } catch {
      return;
    }
  }
}
