/**
 * The one ClickHouse layer (DESIGN.md §3): a client over a server URL or embedded
 * chDB, numbered idempotent migrations (the OTel Collector exporter's tables, the
 * typed llm_* views and the sli_1m rollup), and typed queries.
 */
export { insertEncoded, insertRows, openStore, queryRows, queryText, type EncodedBody, type EncodedLines, type EncodedRows, type InsertFormat, type Store } from './client.js';
export { migrate, applyTtl, layoutStatements, MigrationLockError, SchemaTooNewError, LEDGER, LOCK, LOCK_TABLE, UNLOCK, type MigrateOptions, type TtlDays } from './migrate.js';
export { forLayout, dataTables, distributedTable, readTables, replicatedEngine, DATA_REPLICA, META_REPLICA, type TableKind } from './cluster-ddl.js';
export { isSharded, layoutFor, layoutOf, readTable, SINGLE_NODE, tableFor, type StoreLayout } from './layout.js';
export { MIGRATIONS, type Migration } from './migrations.js';
