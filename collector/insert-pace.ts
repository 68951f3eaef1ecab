import { performance } from 'node:perf_hooks';

/**
 * The time bound admits at least this many rows: smaller inserts cost more merges (batch_rows
 * 10,000: +15 ms per 1000 spans, bench/reading.md), which slows inserts, which would shrink the
 * bound further; the floor stops that spiral.
 */
export const MIN_ADMIT_ROWS = 10_000;
/** Inserts smaller than this are mostly ClickHouse's fixed cost per part (~25–60 ms): they do not update the per-row estimate. */
const MIN_RATE_ROWS = 1_000;
/** Weight of the newest insert in the per-row estimate. */
const RATE_WEIGHT = 0.3;

/**
 * How long the queue's rows will take to insert, from recent inserts' wall time per row, so the
 * queue can be bounded in time rather than rows (issue 18: a row queryable within 2 s). Wall time,
 * not CPU: what a row waits for is the insert's elapsed time, merges and the shared core included.
 */
export class InsertPace {
  #msPerRow: number | undefined;

  /** Recent inserts' wall ms per row (undefined until an insert of MIN_RATE_ROWS rows landed). */
  get msPerRow(): number | undefined {
    return this.#msPerRow;
  }

  /** Runs one insert of `rows` rows and folds its time into the estimate. */
  async time(rows: number, insert: () => Promise<void>): Promise<void> {
    const t0 = performance.now();
    await insert();
    if (rows < MIN_RATE_ROWS) return;
    const perRow = (performance.now() - t0) / rows;
    this.#msPerRow = this.#msPerRow === undefined ? perRow : this.#msPerRow + RATE_WEIGHT * (perRow - this.#msPerRow);
  }

  /** Rows a queue may hold waiting: `maxMs` of inserts, within [MIN_ADMIT_ROWS, batchRows] (maxRows alone until there is an estimate). */
  admitRows(maxRows: number, batchRows: number, maxMs: number | undefined): number {
    if (maxMs === undefined || this.#msPerRow === undefined) return maxRows;
    return Math.min(maxRows, Math.max(MIN_ADMIT_ROWS, Math.min(batchRows, Math.floor(maxMs / this.#msPerRow))));
  }
}
