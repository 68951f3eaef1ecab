import { randomUUID } from 'node:crypto';
import type { Spool } from './spool.js';

export type Row = Record<string, unknown>;

/** Where batches go: ClickHouse, with a dedup token (see store inserts). */
export type InsertBatch = (table: string, rows: Row[], token: string) => Promise<void>;

export interface BatcherOptions {
  batchRows: number;
  flushMs: number;
  maxQueueRows: number;
  /** How often spooled batches are retried while ClickHouse is away. */
  replayMs: number;
}

interface Waiting {
  rows: Row[];
  done: (err?: Error) => void;
}

export class QueueFull extends Error {}

export interface BatcherStats {
  queuedRows: number;
  insertedRows: number;
  spooledBatches: number;
  replayedBatches: number;
}

/**
 * Bounded batching into ClickHouse. `add` resolves once its rows are durable:
 * inserted, or (ClickHouse down) written to the disk spool, which is replayed
 * with the same dedup token until ClickHouse takes it. So a sender's 200 means
 * stored or spooled; nothing acknowledged is lost across an outage or restart.
 */
export class Batcher {
  readonly #queues = new Map<string, Waiting[]>();
  readonly #insert: InsertBatch;
  readonly #spool: Spool;
  readonly #o: BatcherOptions;
  readonly #instance = randomUUID();
  #seq = 0;
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  /** Every write (flushes and replays) goes through this one chain: one insert at a time. */
  #chain: Promise<void> = Promise.resolve();
  #replayQueued = false;
  #flushing = false;
  readonly stats: BatcherStats = { queuedRows: 0, insertedRows: 0, spooledBatches: 0, replayedBatches: 0 };

  constructor(insert: InsertBatch, spool: Spool, o: BatcherOptions) {
    this.#insert = insert;
    this.#spool = spool;
    this.#o = o;
    this.#replayTimer = setInterval(() => void this.replay(), o.replayMs);
    this.#replayTimer.unref();
  }

  /** Queues rows per table; throws QueueFull (→ 429) rather than growing without bound. */
  add(byTable: Record<string, Row[]>): Promise<void> {
    const total = Object.values(byTable).reduce((n, r) => n + r.length, 0);
    if (total === 0) return Promise.resolve();
    if (this.#queued + total > this.#o.maxQueueRows) throw new QueueFull(`collector queue full (${this.#queued} rows waiting)`);
    const parts = Object.entries(byTable).filter(([, rows]) => rows.length > 0);
    const promises = parts.map(
      ([table, rows]) =>
        new Promise<void>((resolve, reject) => {
          const q = this.#queues.get(table) ?? [];
          q.push({ rows, done: (err) => (err === undefined ? resolve() : reject(err)) });
          this.#queues.set(table, q);
        }),
    );
    this.#queued += total;
    this.stats.queuedRows = this.#queued;
    // Group commit: an idle collector inserts after a short linger; rows that arrive while an
    // insert runs go out together right after it. The senders wait for their insert (the 200
    // means stored), so a long timer here would cap every exporter at one batch per timer tick.
    if (this.#flushing) return Promise.all(promises).then(() => undefined);
    if ([...this.#queues.values()].some((q) => q.reduce((n, w) => n + w.rows.length, 0) >= this.#o.batchRows)) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#o.flushMs);
    return Promise.all(promises).then(() => undefined);
  }

  /** Sends everything queued now; one flush at a time. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#serial(() => this.#flushAll());
  }

  #serial(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #flushAll(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queued > 0) await this.#flushOnce();
    } finally {
      this.#flushing = false;
    }
  }

  async #flushOnce(): Promise<void> {
    for (const [table, q] of this.#queues) {
      while (q.length > 0) {
        const batch: Waiting[] = [];
        let rows = 0;
        while (q.length > 0 && (rows === 0 || rows + (q[0]?.rows.length ?? 0) <= this.#o.batchRows)) {
          const w = q.shift();
          if (w === undefined) break;
          batch.push(w);
          rows += w.rows.length;
        }
        await this.#write(table, batch);
        this.#queued -= rows;
        this.stats.queuedRows = this.#queued;
      }
    }
  }

  async #write(table: string, batch: Waiting[]): Promise<void> {
    const rows = batch.flatMap((w) => w.rows);
    const token = `${this.#instance}:${this.#seq++}`;
    try {
      await this.#insert(table, rows, token);
      this.stats.insertedRows += rows.length;
      for (const w of batch) w.done();
    } catch {
      try {
        await this.#spool.put({ table, token, rows });
        this.stats.spooledBatches++;
        for (const w of batch) w.done();
      } catch (err) {
        // Neither ClickHouse nor the disk took it: the sender gets an error and retries.
        for (const w of batch) w.done(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /** Retries spooled batches in order; stops at the first that ClickHouse still refuses. */
  replay(): Promise<void> {
    if (this.#replayQueued) return this.#chain;
    this.#replayQueued = true;
    return this.#serial(async () => {
      this.#replayQueued = false;
      for (const name of await this.#spool.list()) {
        const b = await this.#spool.read(name);
        try {
          await this.#insert(b.table, b.rows, b.token);
        } catch {
          return;
        }
        await this.#spool.remove(name);
        this.stats.replayedBatches++;
        this.stats.insertedRows += b.rows.length;
      }
    });
  }

  async close(): Promise<void> {
    if (this.#replayTimer !== undefined) clearInterval(this.#replayTimer);
    await this.flush();
  }
}
