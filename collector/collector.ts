import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { CollectorConfig, StoreConfig } from '../config/telemetry-schema.js';
import { migrate, openStore, queryText, type Store } from '../store/index.js';
import { Batcher, type BatcherOptions, type InsertBatch } from './batcher.js';
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
type Bounds = 'max_body_bytes' | 'max_inflight_bytes' | 'spool_max_bytes' | 'max_queue_ms';
export type CollectorSettings = Omit<CollectorConfig, Bounds | 'max_spool_bytes'> & Partial<Pick<CollectorConfig, Bounds>>;

const DEFAULT_SPOOL_MAX_BYTES = 1024 * 1024 * 1024;
/**
 * The queue's bound in insert time (BatcherOptions.maxQueueMs): a row accepted waits behind at
 * most ~1 s of inserts, then its own, so at the ingest ceiling it is queryable within ~2 s
 * (issue 18) instead of behind max_queue_rows (p99 7.4 s measured). Senders refused retry: the
 * OTLP exporter honours Retry-After on 429 (bench/reading.md, the collector again).
 */
const DEFAULT_MAX_QUEUE_MS = 1_000;

export interface CollectorOptions {
  collector: CollectorSettings;
  store: StoreConfig;
  /** Reports migration steps (the CLI prints them). */
  onMigration?: (name: string) => void;
  replayMs?: number;
  /** Where spool events go (a quarantined file, drops at the cap, a failing disk); default: stderr. */
  log?: (msg: string) => void;
  /** Read once, for the fault hooks below; default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Overrides collector.max_queue_ms (see DEFAULT_MAX_QUEUE_MS); 0: the row bound (max_queue_rows) alone. */
  maxQueueMs?: number;
}

const queueMs = (o: CollectorOptions): number => o.maxQueueMs ?? o.collector.max_queue_ms ?? DEFAULT_MAX_QUEUE_MS;

const stderrLog = (msg: string) => process.stderr.write(`keel collector: ${msg}\n`);

/** Inserts that ClickHouse deduplicates by token, in the table and in every view it feeds. */
export function storeInsert(store: Store): InsertBatch {
  return (table, rows, token) => store.insert(table, encodeRows(table, rows), token);
}

/**
 * Fault-injection hooks for the exactly-once test (test/collector/exactly-once.test.ts); never
 * set them in production. KEEL_FAULT_DOUBLE_INSERT=1 sends every insert twice under its token
 * (a retry after a lost acknowledgement). KEEL_FAULT_CRASH_AFTER_INSERT=<table> SIGKILLs the
 * process once ClickHouse has acknowledged the first group for that table, before its spool
 * files are removed: the one crash point only the dedup token can make harmless.
 */
function faultHooks(env: NodeJS.ProcessEnv, log: (msg: string) => void): { wrap: (i: InsertBatch) => InsertBatch; afterInsert?: BatcherOptions['afterInsert'] } {
  const double = env.KEEL_FAULT_DOUBLE_INSERT === '1';
  const crashTable = env.KEEL_FAULT_CRASH_AFTER_INSERT;
  if (double) log('fault hook KEEL_FAULT_DOUBLE_INSERT: every insert is sent twice');
  const wrap = (insert: InsertBatch): InsertBatch =>
    double
      ? async (t, rows, token) => {
          await insert(t, rows, token);
          await insert(t, rows, token);
        }
      : insert;
  if (crashTable === undefined || crashTable === '') return { wrap };
  return {
    wrap,
    afterInsert: (g, rows) => {
      if (g.table !== crashTable) return;
      // stderr is a pipe or a file here: written synchronously, so the line survives the kill.
      log(`fault hook KEEL_FAULT_CRASH_AFTER_INSERT: ClickHouse acknowledged ${rows} row(s) of ${g.table} (group ${g.name}); killing the process before the spool files are removed`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

/** Opens the store, applies migrations, replays any spool left by a previous run, and listens. */
export async function startCollector(o: CollectorOptions): Promise<RunningCollector> {
  const store = openStore(o.store);
  await migrate(store.client, o.store.ttl_days, (m) => o.onMigration?.(m.name));
  const log = o.log ?? stderrLog;
  const spool = new Spool(o.collector.spool_dir, { log });
  // Leftover temp files go; what a previous run left counts against the spool bound from the first request on.
  await spool.open();
  const hooks = faultHooks(o.env ?? process.env, log);
  const batcher = new Batcher(hooks.wrap(storeInsert(store)), spool, {
    batchRows: o.collector.batch_rows,
    flushMs: o.collector.flush_ms,
    maxQueueRows: o.collector.max_queue_rows,
    maxQueueMs: queueMs(o) === 0 ? undefined : queueMs(o),
    replayMs: o.replayMs ?? 2_000,
    spoolMaxBytes: o.collector.spool_max_bytes ?? DEFAULT_SPOOL_MAX_BYTES,
    log,
    afterInsert: hooks.afterInsert,
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
