import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { CollectorConfig, StoreConfig } from '../config/telemetry-schema.js';
import { insertEncoded, migrate, openStore, queryText, type Store } from '../store/index.js';
import { Batcher, type InsertBatch } from './batcher.js';
import { encodeRows } from './rows/trace-lines.js';
import { buildCollectorServer } from './server.js';
import { Spool } from './spool.js';

export interface RunningCollector {
  url: string;
  port: number;
  /** What /query requires: telemetry.collector.token, else one generated for this process (the CLI writes it to a 0600 file). */
  queryToken: string;
  store: Store;
  batcher: Batcher;
  close(): Promise<void>;
}

/** The collector block; the bounds added later may be left out (their schema defaults apply). */
type Bounds = 'max_body_bytes' | 'max_inflight_bytes' | 'max_spool_bytes';
export type CollectorSettings = Omit<CollectorConfig, Bounds> & Partial<Pick<CollectorConfig, Bounds>>;

const DEFAULT_MAX_SPOOL_BYTES = 1024 * 1024 * 1024;

export interface CollectorOptions {
  collector: CollectorSettings;
  store: StoreConfig;
  /** Reports migration steps (the CLI prints them). */
  onMigration?: (name: string) => void;
  replayMs?: number;
}

/** Inserts that ClickHouse deduplicates by token, in the table and in every view it feeds. */
export function storeInsert(store: Store): InsertBatch {
  return (table, rows, token) => insertEncoded(store.client, table, encodeRows(table, rows), token);
}

/** Opens the store, applies migrations, replays any spool left by a previous run, and listens. */
export async function startCollector(o: CollectorOptions): Promise<RunningCollector> {
  const store = openStore(o.store);
  await migrate(store.client, o.store.ttl_days, (m) => o.onMigration?.(m.name));
  const spool = new Spool(o.collector.spool_dir);
  // What a previous run left counts against the spool bound from the first request on.
  await spool.measure();
  const batcher = new Batcher(storeInsert(store), spool, {
    batchRows: o.collector.batch_rows,
    flushMs: o.collector.flush_ms,
    maxQueueRows: o.collector.max_queue_rows,
    replayMs: o.replayMs ?? 2_000,
    maxSpoolBytes: o.collector.max_spool_bytes ?? DEFAULT_MAX_SPOOL_BYTES,
  });
  await batcher.replay();
  const queryToken = o.collector.token ?? randomBytes(32).toString('hex');
  const app = buildCollectorServer({ batcher, query: (sql) => queryText(store.reader(), sql), bodyLimit: o.collector.max_body_bytes, maxInflightBytes: o.collector.max_inflight_bytes, token: o.collector.token, queryToken });
  await app.listen({ host: o.collector.host, port: o.collector.port });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://${o.collector.host}:${port}`,
    port,
    queryToken,
    store,
    batcher,
    async close() {
      // In-flight exports finish (their rows become durable) before the server stops; keep-alive
      // connections that turn idle after close began are closed as they do.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 20);
      await app.close().finally(() => clearInterval(sweep));
      await batcher.close();
      await store.close();
    },
  };
}
