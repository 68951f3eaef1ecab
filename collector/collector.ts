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
  store: Store;
  batcher: Batcher;
  close(): Promise<void>;
}

export interface CollectorOptions {
  collector: CollectorConfig;
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
  const batcher = new Batcher(storeInsert(store), new Spool(o.collector.spool_dir), {
    batchRows: o.collector.batch_rows,
    flushMs: o.collector.flush_ms,
    maxQueueRows: o.collector.max_queue_rows,
    replayMs: o.replayMs ?? 2_000,
  });
  await batcher.replay();
  const app = buildCollectorServer({ batcher, query: (sql) => queryText(store.reader(), sql) });
  await app.listen({ host: o.collector.host, port: o.collector.port });
  const { port } = app.server.address() as AddressInfo;
  return {
    url: `http://${o.collector.host}:${port}`,
    port,
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
