import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { createChdbConnection, type ChdbConnection } from 'chdb/connection';
import type { StoreConfig } from '../config/telemetry-schema.js';
import { layoutOf, setLayout } from './layout.js';

export interface Store {
  client: ClickHouseClient;
  /**
   * For users' read-only queries. chDB keeps per-query settings in its session, so
   * `readonly` on the writer's connection would make every later insert fail: the
   * embedded store reads through a second connection to the same folder.
   */
  reader(): ClickHouseClient;
  /** What the store is, for logs: a server URL (without credentials) or the embedded folder. */
  describe: string;
  database: string;
  /** Writes encoded rows under a dedup token: insertEncoded over the client, or chDB's raw insert (see rawInserter). */
  insert(table: string, rows: EncodedRows, token: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The one way to reach ClickHouse: `@clickhouse/client` over HTTP to a server, or
 * over embedded chDB (same SQL, same code path) when no URL is configured.
 * chDB binds one data folder per process (DESIGN.md §3), so only the collector
 * process (or `keel query` when none runs) opens it.
 */
/** The same JSON from a server and from chDB: 64-bit integers as numbers (counts stay far below 2^53). */
const SETTINGS = { output_format_json_quote_64bit_integers: 0 } as const;

export function openStore(cfg: Pick<StoreConfig, 'url' | 'path' | 'database' | 'username' | 'password'> & Partial<Pick<StoreConfig, 'cluster' | 'shards'>>): Store {
  if (cfg.url !== undefined) {
    const client = createClient({ url: cfg.url, database: cfg.database, username: cfg.username, password: cfg.password });
    // Migrations shape their DDL, and readers their table names, by the layout this client carries.
    setLayout(client, layoutOf(cfg));
    const shown = new URL(cfg.url);
    shown.username = '';
    shown.password = '';
    return { client, reader: () => client, describe: shown.toString(), database: cfg.database, insert: (t, rows, token) => insertEncoded(client, t, rows, token), close: () => client.close() };
  }
  const path = resolve(cfg.path);
  mkdirSync(path, { recursive: true });
  const connection = createChdbConnection({ path });
  const client = createClient({ connection: asConnection(connection) });
  let reader: ClickHouseClient | undefined;
  return {
    client,
    reader: () => (reader ??= createClient({ connection: chdbConnection(path) })),
    describe: `embedded chDB at ${path}`,
    database: cfg.database,
    insert: rawInserter(connection),
    close: async () => {
      await reader?.close();
      await client.close();
    },
  };
}

type Connection = NonNullable<NonNullable<Parameters<typeof createClient>[0]>['connection']>;

/**
 * chdb implements the Connection interface against its own copy of
 * @clickhouse/client-common, which TypeScript sees as a different (identical)
 * declaration than the one @clickhouse/client bundles; the runtime contract is the same.
 */
function asConnection(c: ChdbConnection): Connection {
  return c as unknown as Connection;
}

function chdbConnection(path: string): Connection {
  return asConnection(createChdbConnection({ path }));
}

/** Rows of a query as objects (JSONEachRow). */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', query_params: params, clickhouse_settings: SETTINGS });
  return rs.json<T>();
}

/** A user's query, read-only, as an aligned text table (`keel query`). */
export async function queryText(client: ClickHouseClient, query: string): Promise<string> {
  const rs = await client.query({ query, format: 'JSONCompactEachRowWithNames', clickhouse_settings: { ...SETTINGS, readonly: '1' } });
  const [names = [], ...rows] = (await rs.json<unknown[]>()).map((r) => r.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))));
  const widths = names.map((n, i) => Math.max(n.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(names), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`, ''].join('\n');
}

/** Input formats Keel writes: objects by column name, or arrays in a stated column order (cheaper for ClickHouse to read). */
export type InsertFormat = 'JSONEachRow' | 'JSONCompactEachRow';

/** Rows already encoded, one line each, in `format`; JSONCompactEachRow lines follow `columns`. */
export interface EncodedLines {
  format: InsertFormat;
  columns?: readonly string[];
  lines: readonly string[];
}

/** The same as one insert body: `rows` lines, each ending in '\n' (the collector builds these as bytes). */
export interface EncodedBody {
  format: InsertFormat;
  columns?: readonly string[];
  body: Buffer;
  rows: number;
}

export type EncodedRows = EncodedLines | EncodedBody;

const rowsIn = (rows: EncodedRows): number => ('body' in rows ? rows.rows : rows.lines.length);
const bodyOf = (rows: EncodedRows): Buffer => ('body' in rows ? rows.body : Buffer.from(`${rows.lines.join('\n')}\n`));

/**
 * The one way Keel writes rows. Every insert names its own dedup token: a replay with the
 * same token is dropped by ClickHouse (in the table and the views it feeds).
 * The settings ride in the INSERT's own SETTINGS clause: as clickhouse_settings, chDB
 * would run them as `SET …;` statements ahead of the insert, and that multi-statement
 * query cost chDB ~25 ms more CPU per 1,000 spans than the same insert with the clause
 * (measured, 25,000-row inserts); SET values would also stay in chDB's session.
 */
export async function insertEncoded(client: ClickHouseClient, table: string, rows: EncodedRows, token: string = randomUUID()): Promise<void> {
  if (rowsIn(rows) === 0) return;
  const columns = rows.columns === undefined ? '' : ` (${rows.columns.map((c) => `\`${c}\``).join(', ')})`;
  const settings = `insert_deduplication_token = '${token.replace(/[\\']/g, '\\$&')}', deduplicate_blocks_in_dependent_materialized_views = 1`;
  const result = await client.exec({
    query: `INSERT INTO ${table}${columns} SETTINGS ${settings} FORMAT ${rows.format}`,
    values: Readable.from(['body' in rows ? rows.body : `${rows.lines.join('\n')}\n`], { objectMode: false }),
  });
  // Over HTTP the (empty) response must be read for the socket to be reused.
  result.stream.resume();
  await finished(result.stream);
}

/** The dedup settings every insert carries (see insertEncoded). */
function dedupSettings(token: string): Record<string, string | number> {
  return { insert_deduplication_token: token, deduplicate_blocks_in_dependent_materialized_views: 1 };
}

/**
 * Embedded inserts leave otel_traces' skip indexes (five bloom filters, a minmax) to the merges,
 * which build them for every part they write anyway: building them for each fresh part too cost
 * ~1.5–3.5 ms of ClickHouse CPU per 1000 spans (25,000-row inserts, interleaved, lower in each of
 * five runs; bench/reading.md, the collector's ceiling). A part not
 * merged yet has no index and is read whole: the same rows, only a little slower to find, and
 * such parts are the last seconds' small ones. Embedded only: the chDB version is known (26.x),
 * a server's may not know the setting, and an unknown setting would fail every insert.
 */
const SKIP_INDEXES = { materialize_skip_indexes_on_insert: 0 } as const;

/**
 * On one core (the collector pinned, issue 18's ceiling) ClickHouse's parallel parsing only
 * splits the body to parse it on a second thread that shares the core: off, 25.89 → 24.01 and
 * 25.70 → 23.73 ms CPU per 1000 spans (chDB alone, 14 and 16 interleaved rounds, lower in 11 of
 * 14), insert wall time no longer. With cores to spare it can shorten an insert, so it stays on
 * there. os.availableParallelism follows the CPU affinity (taskset) on Linux.
 */
const EMBEDDED_INSERT = availableParallelism() === 1 ? { ...SKIP_INDEXES, input_format_parallel_parsing: 0 } : SKIP_INDEXES;

/**
 * Inserts into embedded chDB through its raw entry: the body goes to the engine as one Buffer,
 * not as the tail of an INSERT statement string (which chDB's exec concatenates, flattens and
 * copies again as UTF-8: three copies of a 25,000-span body of ~40 MB). Measured with
 * bench:ingest's blast, interleaved: collector RSS peak ~900 MB against ~1,070, CPU per span
 * within the noise. Same SETTINGS clause, so the same dedup token semantics.
 */
function rawInserter(connection: ChdbConnection): Store['insert'] {
  return async (table, rows, token) => {
    if (rowsIn(rows) === 0) return;
    await connection.chdb.rawInsert({ table, columns: rows.columns, format: rows.format, values: bodyOf(rows), settings: { ...dedupSettings(token), ...EMBEDDED_INSERT } });
  };
}

/** Rows as objects (JSONEachRow): migrations, tests and low-volume tables. */
export async function insertRows(client: ClickHouseClient, table: string, values: readonly Record<string, unknown>[], token: string = randomUUID()): Promise<void> {
  await insertEncoded(client, table, { format: 'JSONEachRow', lines: values.map((v) => JSON.stringify(v)) }, token);
}
