import { randomUUID } from 'node:crypto';
import type { Row, Spool, SpooledBatch, SpooledGroup } from './spool.js';

export type { Row };

/** Where batches go: ClickHouse, with a dedup token (see store inserts). */
export type InsertBatch = (table: string, rows: Row[], token: string) => Promise<void>;

export interface BatcherOptions {
  batchRows: number;
  flushMs: number;
  maxQueueRows: number;
  /** How often spooled batches are retried while ClickHouse is away. */
  replayMs: number;
  /** Spool size past which new data is refused (see SpoolFull); default: no bound (tests of other things). */
  maxSpoolBytes?: number;
}

export class QueueFull extends Error {}

/** The spool is over its bound: ClickHouse is refusing or behind (→ 429 with `retryAfterS`). */
export class SpoolFull extends Error {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}

export interface BatcherStats {
  queuedRows: number;
  insertedRows: number;
  /** Groups ClickHouse refused, left on disk for the replay. */
  spooledBatches: number;
  replayedBatches: number;
}

interface Pending {
  file: string;
  rows: Row[];
}

/**
 * Write-ahead batching into ClickHouse. `add` resolves once its rows are on disk (one
 * fsynced spool file per table), so a sender's 200 means durable; inserts then take up to
 * `batchRows` rows of a table at a time, at most every `flushMs`. Every insert into
 * embedded ClickHouse writes a part in the table and in each view it feeds (~25–60 ms
 * however few rows), so inserts must be few and large; before the write-ahead, senders
 * waited for their insert and one gateway could not get past one insert per export.
 *
 * Exactly once: a flush first writes a group manifest (members + token), then inserts with
 * that token, removes the members, then the manifest. A crash at any step replays the
 * manifest with the same token (ClickHouse drops blocks it has seen under it); member
 * files outside any manifest were never inserted and are replayed under their own token.
 */
export class Batcher {
  readonly #pending = new Map<string, Pending[]>();
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
  readonly stats: BatcherStats = { queuedRows: 0, insertedRows: 0, spooledBatches: 0, replayedBatches: 0 };

  constructor(insert: InsertBatch, spool: Spool, o: BatcherOptions) {
    this.#insert = insert;
    this.#spool = spool;
    this.#o = o;
    this.#replayTimer = setInterval(() => void this.replay(), o.replayMs);
    this.#replayTimer.unref();
  }

  /** Bytes on disk ClickHouse does not have yet. */
  get spoolBytes(): number {
    return this.#spool.bytes;
  }

  /** Makes rows durable and queues them; throws QueueFull or SpoolFull (→ 429) rather than growing without bound. */
  async add(byTable: Record<string, Row[]>): Promise<void> {
    const parts = Object.entries(byTable).filter(([, rows]) => rows.length > 0);
    const total = parts.reduce((n, [, rows]) => n + rows.length, 0);
    if (total === 0) return;
    if (this.#queued + total > this.#o.maxQueueRows) throw new QueueFull(`collector queue full (${this.#queued} rows waiting)`);
    this.#checkSpool();
    this.#count(total);
    let files: { table: string; file: string; rows: Row[] }[];
    try {
      files = await Promise.all(parts.map(async ([table, rows]) => ({ table, rows, file: await this.#spool.put({ table, token: this.#token(), rows }) })));
    } catch (err) {
      this.#count(-total);
      throw err;
    }
    for (const f of files) {
      const q = this.#pending.get(f.table) ?? [];
      q.push({ file: f.file, rows: f.rows });
      this.#pending.set(f.table, q);
    }
    if (files.some((f) => this.#rowsOf(f.table) >= this.#o.batchRows)) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#o.flushMs);
  }

  /**
   * The in-memory queue is bounded in rows, but while ClickHouse refuses inserts every flush
   * moves its rows to the spool and the queue empties: without this check a down store meant
   * accepting without end until the disk filled. The rule: once the spool holds more than
   * `maxSpoolBytes`, refuse new data until the replay has brought it back under. When inserts
   * succeed the spool holds little more than the queue, so only a refusing or lagging store
   * gets here. Refusing is safe: 429 is retryable in OTLP, exporters keep their own bounded
   * queues, and nothing already acknowledged is touched. The bound can be passed by at most one
   * request (the check is before the write). Retry-After is the replay period: the spool can
   * shrink no sooner.
   */
  #checkSpool(): void {
    const max = this.#o.maxSpoolBytes;
    if (max === undefined || this.#spool.bytes <= max) return;
    throw new SpoolFull(`collector spool full (${this.#spool.bytes} bytes waiting for ClickHouse)`, Math.max(1, Math.ceil(this.#o.replayMs / 1000)));
  }

  #token(): string {
    return `${this.#instance}:${this.#seq++}`;
  }

  #count(delta: number): void {
    this.#queued += delta;
    this.stats.queuedRows = this.#queued;
  }

  #rowsOf(table: string): number {
    return (this.#pending.get(table) ?? []).reduce((n, p) => n + p.rows.length, 0);
  }

  /** Inserts everything queued now; one write at a time. */
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
    for (const [table, q] of this.#pending) {
      while (q.length > 0) {
        const group: Pending[] = [];
        let rows = 0;
        while (q.length > 0 && (rows === 0 || rows + (q[0]?.rows.length ?? 0) <= this.#o.batchRows)) {
          const p = q.shift();
          if (p === undefined) break;
          group.push(p);
          rows += p.rows.length;
        }
        await this.#writeGroup(table, group);
        this.#count(-rows);
      }
    }
  }

  async #writeGroup(table: string, group: Pending[]): Promise<void> {
    const members = group.map((p) => p.file);
    const token = this.#token();
    let manifest: string;
    try {
      manifest = await this.#spool.group({ table, token, members });
    } catch {
      // The members stay on disk and replay one by one under their own tokens (next start).
      this.stats.spooledBatches++;
      return;
    }
    await this.#landGroup({ name: manifest, table, token, members }, group.flatMap((p) => p.rows));
  }

  /** Insert, then members, then manifest: the order that makes every crash point replayable. */
  async #landGroup(g: SpooledGroup, rows: Row[]): Promise<boolean> {
    try {
      await this.#insert(g.table, rows, g.token);
    } catch {
      this.stats.spooledBatches++;
      return false;
    }
    this.stats.insertedRows += rows.length;
    for (const m of g.members) await this.#spool.remove(m);
    await this.#spool.remove(g.name);
    return true;
  }

  /** Lands what is queued, then retries what ClickHouse refused before (oldest first). */
  replay(): Promise<void> {
    if (this.#replayQueued) return this.#chain;
    this.#replayQueued = true;
    void this.flush();
    return this.#serial(async () => {
      this.#replayQueued = false;
      const grouped = new Set<string>();
      for (const g of await this.#spool.groups()) {
        g.members.forEach((m) => grouped.add(m));
        // A member already removed was inserted under this token: ClickHouse drops the rest as seen.
        const batches = await Promise.all(g.members.map((m) => this.#spool.read(m).catch(() => undefined)));
        if (!(await this.#landGroup(g, batches.flatMap((b) => b?.rows ?? [])))) return;
        this.stats.replayedBatches++;
      }
      for (const name of await this.#spool.list()) {
        // This process's own member files are queued (or being written): the flush lands them.
        if (grouped.has(name) || name.includes(this.#instance)) continue;
        const b: SpooledBatch = await this.#spool.read(name);
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
