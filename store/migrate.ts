import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows, queryRows } from './client.js';
import { forLayout } from './cluster-ddl.js';
import { layoutFor, type StoreLayout } from './layout.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type TtlDays = Record<'traces' | 'metrics' | 'requests' | 'sli', number>;

/** `{ttl:family:expr}` → a TTL clause (or nothing for 0 = keep forever), as the exporter writes it. */
export function applyTtl(sql: string, ttl: TtlDays): string {
  return sql.replace(/\{ttl:(\w+):([^}]+)\}/g, (_m, family: string, expr: string) => {
    const days = ttl[family as keyof TtlDays];
    if (days === undefined) throw new Error(`migration names unknown TTL family ${family}`);
    return days > 0 ? `TTL ${expr} + toIntervalDay(${days})` : '';
  });
}

export const LEDGER = `CREATE TABLE IF NOT EXISTS keel_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version`;

export const LOCK_TABLE = 'keel_migration_lock';

/**
 * The migration lock is the existence of this table. ClickHouse has no transactions, but a
 * CREATE TABLE without IF NOT EXISTS is atomic: of two at once, exactly one succeeds and the
 * other fails with TABLE_ALREADY_EXISTS. ON CLUSTER, both go through the one Keeper-ordered
 * DDL queue, so every host runs them in the same order and the same one wins everywhere.
 * Its row names the holder, for the message a waiter gives when the lock outlives its wait.
 */
export const LOCK = `CREATE TABLE ${LOCK_TABLE} (holder String, since DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY tuple()`;

/** Releases the lock (also after a failed migration: only a killed process leaves it behind). */
export const UNLOCK = `DROP TABLE IF EXISTS ${LOCK_TABLE} SYNC`;

/** The store's schema is newer than this build: writing with an older idea of the tables could corrupt them. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly storeVersion: number,
    readonly knownVersion: number,
  ) {
    super(`the store's schema is at version ${storeVersion}, and this Keel knows versions up to ${knownVersion}: it will not write to a schema it does not know; upgrade Keel or point it at another database (telemetry.store.database)`);
    this.name = 'SchemaTooNewError';
  }
}

/** Another migrate() held the lock longer than this one would wait. */
export class MigrationLockError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationLockError';
  }
}

export interface MigrateOptions {
  /** Default: what openStore was given for this client (single node for a bare client). */
  layout?: StoreLayout;
  migrations?: readonly Migration[];
  /** How long to wait for another process's migrations before giving up (ms). */
  lockWaitMs?: number;
  pollMs?: number;
}

const LOCK_WAIT_MS = 5 * 60_000;

/** Single-node DDL as this layout runs it, TTLs filled in. */
export function layoutStatements(sql: string, ttl: TtlDays, layout: StoreLayout, kind: 'data' | 'meta' = 'data'): string[] {
  return forLayout(applyTtl(sql, ttl), layout, kind);
}

/**
 * Applies the migrations this store has not seen, in order, and records each.
 * `onStep` reports progress (the CLI prints it). Returns the versions applied.
 * Several processes may call it at once (collectors starting together): the one holding
 * the lock applies, the others wait for it and then find nothing left to do. A store whose
 * schema is newer than this build is refused (SchemaTooNewError): nothing is written.
 */
export async function migrate(client: ClickHouseClient, ttl: TtlDays, onStep: (m: Migration) => void = () => undefined, o: MigrateOptions = {}): Promise<number[]> {
  const layout = o.layout ?? layoutFor(client);
  const migrations = o.migrations ?? MIGRATIONS;
  const known = Math.max(0, ...migrations.map((m) => m.version));
  const run = async (sql: string, kind: 'data' | 'meta' = 'data') => {
    for (const query of layoutStatements(sql, ttl, layout, kind)) await client.command({ query });
  };
  // Checked first so an up-to-date store costs no DDL (on a cluster, no ON CLUSTER round trip).
  if (!(await exists(client, 'keel_migrations'))) await run(LEDGER, 'meta');
  if (pending(await ledger(client, known), migrations).length === 0) return [];

  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  await acquire(client, layout, o.lockWaitMs ?? LOCK_WAIT_MS, o.pollMs ?? 200, () => run(LOCK, 'meta'));
  try {
    await insertRows(client, LOCK_TABLE, [{ holder }]);
    // A replica may not have fetched the ledger rows the previous holder wrote elsewhere yet.
    if (layout.cluster !== undefined) await client.command({ query: 'SYSTEM SYNC REPLICA keel_migrations' });
    const applied: number[] = [];
    for (const m of pending(await ledger(client, known), migrations)) {
      onStep(m);
      for (const sql of m.statements) await run(sql);
      await insertRows(client, 'keel_migrations', [{ version: m.version, name: m.name }]);
      applied.push(m.version);
    }
    return applied;
  } finally {
    await run(UNLOCK, 'meta');
  }
}

function pending(done: ReadonlySet<number>, migrations: readonly Migration[]): Migration[] {
  return migrations.filter((m) => !done.has(m.version));
}

/** The versions applied; throws when the store is past what this build knows. */
async function ledger(client: ClickHouseClient, known: number): Promise<Set<number>> {
  const done = new Set((await queryRows<{ version: number }>(client, 'SELECT DISTINCT version FROM keel_migrations')).map((r) => Number(r.version)));
  const newest = Math.max(0, ...done);
  if (newest > known) throw new SchemaTooNewError(newest, known);
  return done;
}

async function exists(client: ClickHouseClient, table: string): Promise<boolean> {
  const [row] = await queryRows<{ result: number }>(client, `EXISTS TABLE ${table}`);
  return Number(row?.result) === 1;
}

function alreadyExists(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === '57' || (err instanceof Error && /TABLE_ALREADY_EXISTS|already exists/i.test(err.message));
}

/** Takes the lock, waiting (polling, without DDL) while another process holds it. */
async function acquire(client: ClickHouseClient, layout: StoreLayout, waitMs: number, pollMs: number, create: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (!(await exists(client, LOCK_TABLE))) {
      try {
        await create();
        return;
      } catch (err) {
        if (!alreadyExists(err)) throw err;
      }
    }
    if (Date.now() >= deadline) throw new MigrationLockError(await lockMessage(client, layout, waitMs));
    await sleep(pollMs);
  }
}

async function lockMessage(client: ClickHouseClient, layout: StoreLayout, waitMs: number): Promise<string> {
  const [row] = await queryRows<{ holder: string; since: string }>(client, `SELECT holder, toString(since) AS since FROM ${LOCK_TABLE} LIMIT 1`).catch(() => []);
  const who = row === undefined ? 'another process' : `${row.holder} (since ${row.since} UTC)`;
  const drop = `DROP TABLE ${LOCK_TABLE}${layout.cluster === undefined ? '' : ` ON CLUSTER \`${layout.cluster}\``} SYNC`;
  const waited = waitMs < 1000 ? `${waitMs} ms` : `${Math.round(waitMs / 1000)} s`;
  return `migrations are locked by ${who}; waited ${waited}. If that process is gone (it stopped mid-migration), run \`${drop}\` and start again`;
}
