import type { ClickHouseClient } from '@clickhouse/client';
import type { StoreConfig } from '../config/telemetry-schema.js';

/**
 * Where the schema lives: one node (a server, ClickHouse Cloud, embedded chDB), or a named
 * ClickHouse cluster of `shards` × replicas. Migrations shape their DDL by it (cluster-ddl.ts)
 * and readers pick table names by it (`readTable`), so both follow the same config.
 */
export interface StoreLayout {
  /** A `remote_servers` cluster name; undefined = single node. */
  cluster?: string;
  /** Shards in the cluster: 1 means every replica holds all data. */
  shards: number;
  /** The database the Distributed tables read from (the store's). */
  database: string;
}

export const SINGLE_NODE: StoreLayout = { shards: 1, database: 'default' };

export function layoutOf(cfg: Pick<StoreConfig, 'database'> & Partial<Pick<StoreConfig, 'cluster' | 'shards'>>): StoreLayout {
  return cfg.cluster === undefined ? { shards: 1, database: cfg.database } : { cluster: cfg.cluster, shards: cfg.shards ?? 1, database: cfg.database };
}

/** Whether reads must go through the `<table>_all` Distributed tables (rows of one table live on several shards). */
export function isSharded(layout: StoreLayout): boolean {
  return layout.cluster !== undefined && layout.shards > 1;
}

/** The name a query spanning every shard reads `table` by: itself, or its Distributed table. */
export function tableFor(table: string, layout: StoreLayout): string {
  return isSharded(layout) ? `${table}_all` : table;
}

/**
 * The SLO engine and status page get a client and nothing else (their callers are not this
 * layer's), so the layout openStore was given rides with the client it made.
 */
const layouts = new WeakMap<ClickHouseClient, StoreLayout>();

export function setLayout(client: ClickHouseClient, layout: StoreLayout): void {
  layouts.set(client, layout);
}

export function layoutFor(client: ClickHouseClient): StoreLayout {
  return layouts.get(client) ?? SINGLE_NODE;
}

/** The one table-name function of the read side: `sli_1m`, or `sli_1m_all` on a sharded cluster. */
export function readTable(client: ClickHouseClient, table: string): string {
  return tableFor(table, layoutFor(client));
}
