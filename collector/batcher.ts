import { randomUUID } from 'node:crypto';
import { InsertPace } from './insert-pace.js';
import { Spool, type Row, type SpooledGroup } from './spool.js';

export type { Row };

/** Where batches go: ClickHouse, with a dedup token (see store inserts). */
export type InsertBatch = (table: string, rows: Row[], token: string) => Promise<void>;

export interface BatcherOptions {
  batchRows: number;
  flushMs: number;
  maxQueueRows: number;
  /**
   * The queue's bound in time: rows waiting for an insert (the one running not counted) are held
   * to this many ms of insert work (× the wall time per row of recent inserts, at most batchRows,
   * at least MIN_ADMIT_ROWS); past it senders get 429 + Retry-After. A row accepted then waits for
   * the insert running and its own, not behind max_queue_rows (issue 18: queryable within 2 s).
   * The running insert is left out so the next batch is always ready when it ends. Absent: the
   * row count alone.
   */
  maxQueueMs?: number;
  /** How often spooled batches are retried while ClickHouse is away. */
  replayMs: number;
  /** telemetry.collector.spool_max_bytes: past it the oldest spooled batches are dropped (counted); default: no bound (tests of other things). */
  spoolMaxBytes?: number;
  /** One line per event worth an operator's attention (drops, a failing disk). */
  log?: (msg: string) => void;
  /** Clock for rate-limiting those lines. */
  now?: () => number;
  /**
   * Test hook (KEEL_FAULT_CRASH_AFTER_INSERT, see collector.ts): called once ClickHouse has
   * acknowledged a group, before its files are removed — the crash point exactly-once must survive.
   */
  afterInsert?: (g: SpooledGroup, rows: number) => void;
}

export class QueueFull extends Error {}

/** The spool could not be written (a full or failing disk): nothing was acknowledged (→ 503, the sender retries). */
export class SpoolWriteFailed extends Error {}

export interface BatcherStats {
  queuedRows: number;
  insertedRows: number;
  /** Groups ClickHouse refused, left on disk for the replay. */
  spooledBatches: number;
  replayedBatches: number;
  /** Spooled batches deleted unsent because the spool passed spool_max_bytes (oldest first). */
  droppedFiles: number;
  /** Of which otel_traces rows (spans)… */
  droppedSpans: number;
  /** …and rows of every table (spans and metric points). */
  droppedRows: number;
  /** Requests refused because the spool could not be written (ENOSPC, EIO). */
  spoolWriteErrors: number;
  /** Exports answered 429 because the queue was at its bound (max_queue_ms of inserts, or max_queue_rows). */
  refusedQueue: number;
  /** Exports answered 429 because the bodies being received at once would pass max_inflight_bytes. */
  refusedBodies: number;
}

/** How often a repeating condition (drops at the cap) is logged again, with its running totals. */
const LOG_EVERY_MS = 300_000;

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
 *
 * Bounded: the spool never holds much more than `spoolMaxBytes` (one request past it at most).
 * Past it the oldest batches are deleted unsent and counted, never the newest: SLO burn rates
 * and routing weights read the last minutes, and an outage long enough to fill the cap has
 * already cost its oldest minutes' detail whatever we do. (Refusing new data at the cap, with
 * 429, was the earlier rule: it moved the loss to the senders' smaller queues, newest first.)
 */
export class Batcher {
  readonly #pending = new Map<string, Pending[]>();
  readonly #insert: InsertBatch;
  readonly #spool: Spool;
  readonly #o: BatcherOptions;
  readonly #log: (msg: string) => void;
  readonly #now: () => number;
  readonly #instance = randomUUID();
  /**
   * Keys (Spool.keyOf) of batch files this process owns: from before their write until their
   * group's insert was tried. The replay and the cap leave them alone — their rows are in memory
   * and the flush lands them; taking them too would insert them twice or count a drop that landed.
   */
  readonly #held = new Set<string>();
  #seq = 0;
  #queued = 0;
  /** Rows of the group being inserted (counted in #queued too). */
  #inflight = 0;
  #timer: NodeJS.Timeout | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  /** Every write (flushes and replays) goes through this one chain: one insert at a time. */
  #chain: Promise<void> = Promise.resolve();
  #replayQueued = false;
  #trimming = false;
  #lastDropLog = -Infinity;
  #writeFailing = false;
  readonly #pace = new InsertPace();
  readonly stats: BatcherStats = { queuedRows: 0, insertedRows: 0, spooledBatches: 0, replayedBatches: 0, droppedFiles: 0, droppedSpans: 0, droppedRows: 0, spoolWriteErrors: 0, refusedQueue: 0, refusedBodies: 0 };

  constructor(insert: InsertBatch, spool: Spool, o: BatcherOptions) {
    this.#insert = insert;
    this.#spool = spool;
    this.#o = o;
    this.#log = o.log ?? (() => undefined);
    this.#now = o.now ?? Date.now;
    this.#replayTimer = setInterval(() => void this.replay(), o.replayMs);
    this.#replayTimer.unref();
  }

  /** Bytes on disk ClickHouse does not have yet. */
  get spoolBytes(): number {
    return this.#spool.bytes;
  }

  get spool(): Spool {
    return this.#spool;
  }

  get spoolMaxBytes(): number | undefined {
    return this.#o.spoolMaxBytes;
  }

  /** Makes rows durable and queues them; throws QueueFull (→ 429) or SpoolWriteFailed (→ 503) rather than acknowledging what is not on disk. */
  async add(byTable: Record<string, Row[]>): Promise<void> {
    const parts = Object.entries(byTable).filter(([, rows]) => rows.length > 0);
    const total = parts.reduce((n, [, rows]) => n + rows.length, 0);
    if (total === 0) return;
    if (this.#queued + total > this.#o.maxQueueRows) throw this.#full(`collector queue full (${this.#queued} rows waiting)`);
    if (!this.admitting()) throw this.#timeFull();
    this.#count(total);
    const files = await this.#write(parts).catch((err: unknown) => {
      this.#count(-total);
      throw err;
    });
    for (const f of files) {
      const q = this.#pending.get(f.table) ?? [];
      q.push({ file: f.file, rows: f.rows });
      this.#pending.set(f.table, q);
    }
    await this.#trim();
    // A queue at its bound gains nothing from waiting for flush_ms: the next insert takes what is there.
    if (files.some((f) => this.#rowsOf(f.table) >= this.#o.batchRows) || !this.admitting()) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#o.flushMs);
  }

  /** One file per table, all or none: a request answered 503 is sent again, so a part kept would be stored twice. */
  async #write(parts: [string, Row[]][]): Promise<{ table: string; file: string; rows: Row[] }[]> {
    const batches = parts.map(([table, rows]) => ({ table, rows, token: this.#token() }));
    batches.forEach((b) => this.#held.add(Spool.keyOf(b.token)));
    const written = await Promise.allSettled(batches.map((b) => this.#spool.put(b)));
    const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
    if (failed === undefined) {
      this.#writeOk();
      return batches.map((b, i) => ({ table: b.table, rows: b.rows, file: (written[i] as PromiseFulfilledResult<string>).value }));
    }
    for (const w of written) if (w.status === 'fulfilled') await this.#spool.remove(w.value);
    batches.forEach((b) => this.#held.delete(Spool.keyOf(b.token)));
    throw this.#writeFailed(failed.reason);
  }

  /** A failing disk is logged once when it starts and once when it ends, counted per refused request. */
  #writeFailed(reason: unknown): SpoolWriteFailed {
    this.stats.spoolWriteErrors++;
    const why = reason instanceof Error ? reason.message : String(reason);
    if (!this.#writeFailing) this.#log(`spool: cannot write (${why}); answering 503 until it can (nothing acknowledged is lost)`);
    this.#writeFailing = true;
    return new SpoolWriteFailed(`the collector cannot write its spool (${why})`);
  }

  #writeOk(): void {
    if (this.#writeFailing) this.#log(`spool: writing again (${this.stats.spoolWriteErrors} request(s) refused so far)`);
    this.#writeFailing = false;
  }

  /** Drops the oldest batches nobody holds until the spool is back under its cap. */
  async #trim(): Promise<void> {
    const max = this.#o.spoolMaxBytes;
    if (max === undefined || this.#trimming) return;
    this.#trimming = true;
    try {
      while (this.#spool.bytes > max) {
        const victim = this.#spool.oldest((key) => this.#held.has(key));
        // What is left is queued in memory or being inserted: it leaves the spool on its own.
        if (victim === undefined) return;
        const dropped = await this.#spool.drop(victim);
        this.#countDrop(dropped?.table ?? '', dropped?.rows ?? 0, max);
      }
    } finally {
      this.#trimming = false;
    }
  }

  #countDrop(table: string, rows: number, max: number): void {
    this.stats.droppedFiles++;
    this.stats.droppedRows += rows;
    if (table === 'otel_traces') this.stats.droppedSpans += rows;
    if (this.#now() - this.#lastDropLog < LOG_EVERY_MS) return;
    this.#lastDropLog = this.#now();
    const { droppedFiles, droppedSpans, droppedRows } = this.stats;
    this.#log(`spool: over spool_max_bytes (${max} bytes) while ClickHouse is behind: dropping the oldest batches (${droppedFiles} file(s), ${droppedSpans} span(s), ${droppedRows} row(s) dropped so far)`);
  }

  /** Rows waiting for an insert (the running one not counted) the time bound allows; maxQueueRows without one (see BatcherOptions). */
  admitRows(): number {
    return this.#pace.admitRows(this.#o.maxQueueRows, this.#o.batchRows, this.#o.maxQueueMs);
  }

  /**
   * False while the time bound is reached: the server asks before it reads a body, so a refused
   * export costs no decoding (decoding and then refusing doubled the main thread's CPU, measured).
   * A request that arrives just under it is let in whatever its size: the bound is never more than one request off.
   */
  admitting(): boolean {
    return this.#queued - this.#inflight < this.admitRows();
  }

  /**
   * Counts a refusal made before the batcher saw the rows: the server's checks ahead of reading
   * a body (the queue at its time bound, or max_inflight_bytes). Exposed on /metrics, because a
   * collector refusing for long is one the fleet's span rate has outgrown.
   */
  refused(reason: 'queue' | 'bodies'): void {
    if (reason === 'queue') this.stats.refusedQueue++;
    else this.stats.refusedBodies++;
  }

  #full(message: string): QueueFull {
    this.stats.refusedQueue++;
    return new QueueFull(message);
  }

  #timeFull(): QueueFull {
    const waiting = this.#queued - this.#inflight;
    return this.#full(`collector queue full (${waiting} rows waiting for an insert, about ${Math.round(waiting * (this.#pace.msPerRow ?? 0))} ms of inserts)`);
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
        this.#inflight = rows;
        try {
          await this.#writeGroup(table, group);
        } finally {
          this.#inflight = 0;
        }
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
      // The members stay on disk and replay one by one under their own tokens.
      this.stats.spooledBatches++;
      this.#release(members);
      return;
    }
    // A manifest adds bytes too: the bound holds for it as for a batch.
    await this.#trim();
    await this.#landGroup({ name: manifest, table, token, members }, group.flatMap((p) => p.rows));
  }

  #release(members: string[]): void {
    for (const m of members) this.#held.delete(Spool.keyOfName(m));
  }

  /** Insert, then members, then manifest: the order that makes every crash point replayable. */
  async #landGroup(g: SpooledGroup, rows: Row[]): Promise<boolean> {
    try {
      // A manifest whose members were all dropped or quarantined has nothing left to insert.
      if (rows.length > 0) await this.#pace.time(rows.length, () => this.#insert(g.table, rows, g.token));
    } catch {
      this.stats.spooledBatches++;
      this.#release(g.members);
      return false;
    }
    this.#o.afterInsert?.(g, rows.length);
    this.stats.insertedRows += rows.length;
    for (const m of g.members) await this.#spool.remove(m);
    await this.#spool.remove(g.name);
    this.#release(g.members);
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
        // Held while they are read and inserted, so the cap cannot count as dropped what is landing.
        g.members.forEach((m) => this.#held.add(Spool.keyOfName(m)));
        // A member already removed was inserted under this token: ClickHouse drops the rest as seen.
        const batches = await Promise.all(g.members.map((m) => this.#spool.read(m)));
        if (!(await this.#landGroup(g, batches.flatMap((b) => b?.rows ?? [])))) return;
        this.stats.replayedBatches++;
      }
      for (const name of await this.#spool.list()) {
        if (grouped.has(name) || this.#held.has(Spool.keyOfName(name))) continue;
        if (!(await this.#replayLone(name))) return;
      }
    });
  }

  /** A batch no manifest names: never inserted, so it goes under its own token. False: ClickHouse refused, stop for now. */
  async #replayLone(name: string): Promise<boolean> {
    const key = Spool.keyOfName(name);
    this.#held.add(key);
    try {
      return await this.#landLone(name);
    } finally {
      this.#held.delete(key);
    }
  }

  async #landLone(name: string): Promise<boolean> {
    const b = await this.#spool.read(name);
    if (b === undefined) return true;
    try {
      await this.#insert(b.table, b.rows, b.token);
    } catch {
      return false;
    }
    await this.#spool.remove(name);
    this.stats.replayedBatches++;
    this.stats.insertedRows += b.rows.length;
    return true;
  }

  async close(): Promise<void> {
    if (this.#replayTimer !== undefined) clearInterval(this.#replayTimer);
    await this.flush();
  }
}
