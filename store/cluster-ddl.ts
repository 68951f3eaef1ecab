import { isSharded, tableFor, type StoreLayout } from './layout.js';

/**
 * Single-node DDL → the same DDL for a ClickHouse cluster, by a pure rewrite of each statement,
 * so the append-only migrations are written once and a new one needs no second copy:
 * - CREATE TABLE/VIEW/MATERIALIZED VIEW, ALTER, RENAME and DROP run ON CLUSTER;
 * - MergeTree-family engines become their Replicated… counterparts;
 * - `non_replicated_deduplication_window` becomes `replicated_deduplication_window`, so the
 *   collector's insert tokens still drop a replayed batch (in Keeper, across replicas);
 * - with shards > 1, every table gets a `<table>_all` Distributed table for reads.
 * A statement of a shape this does not know throws: better a failing golden test than a
 * table that silently does not replicate.
 */

/**
 * The replica path of data tables. `{uuid}` (not `{database}/{table}`) keeps the Keeper path
 * valid through RENAME (migration 8 renames a table), and is unique per table even when a
 * table is dropped and created again. `{shard}` and `{replica}` are each server's macros.
 */
export const DATA_REPLICA = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'";

/**
 * Keel's own bookkeeping (the ledger, the migration lock) is one replica set across the
 * whole cluster, not one per shard: a collector on any shard must see what another applied.
 * `{shard}-{replica}` stays unique where replica names repeat from shard to shard.
 */
export const META_REPLICA = "'/clickhouse/tables/{uuid}/keel_meta', '{shard}-{replica}'";

/** `data`: a migration's tables (replicated per shard, Distributed when sharded); `meta`: Keel's ledger and lock. */
export type TableKind = 'data' | 'meta';

const NAME = '([A-Za-z_]\\w*)';
/** Statements whose target name is followed by ON CLUSTER. */
const HEAD = new RegExp(`^(\\s*(CREATE\\s+(?:TABLE|VIEW|MATERIALIZED\\s+VIEW)(?:\\s+IF\\s+NOT\\s+EXISTS)?|ALTER\\s+TABLE|DROP\\s+(?:TABLE|VIEW)(?:\\s+IF\\s+EXISTS)?)\\s+)${NAME}`, 'i');
/** RENAME puts ON CLUSTER after the whole list of renames. */
const RENAME = new RegExp(`^\\s*RENAME\\s+TABLE(?:\\s+IF\\s+EXISTS)?\\s+${NAME}\\s+TO\\s+${NAME}\\s*$`, 'i');
/** The engines with a Replicated… counterpart that Keel uses or may use; arguments (if any) without nested parentheses. */
const ENGINE = /ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing)?MergeTree\b(?:\s*\(([^()]*)\))?/;

const cluster = (layout: StoreLayout): string => {
  if (layout.cluster === undefined) throw new Error('cluster DDL needs a cluster name');
  return layout.cluster;
};

const onCluster = (layout: StoreLayout): string => `ON CLUSTER \`${cluster(layout)}\``;

/** The Distributed table over `table`, for reads only: no sharding key, so an insert through it fails instead of scattering rows past the dedup tokens. */
export function distributedTable(table: string, layout: StoreLayout): string {
  const quote = (s: string) => `'${s.replace(/[\\']/g, '\\$&')}'`;
  return `CREATE TABLE IF NOT EXISTS ${table}_all ${onCluster(layout)} AS ${table} ENGINE = Distributed(${quote(cluster(layout))}, ${quote(layout.database)}, ${quote(table)})`;
}

/** `ENGINE = XMergeTree(args)` → `ENGINE = ReplicatedXMergeTree(path, replica, args)`. */
export function replicatedEngine(sql: string, kind: TableKind): string {
  const path = kind === 'data' ? DATA_REPLICA : META_REPLICA;
  return sql.replace(ENGINE, (_m, family: string | undefined, args: string | undefined) => {
    const rest = args === undefined || args.trim() === '' ? '' : `, ${args.trim()}`;
    return `ENGINE = Replicated${family ?? ''}MergeTree(${path}${rest})`;
  });
}

/** Top-level clauses of an ALTER body (commas inside parentheses or quotes do not split). */
function clauses(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "'" && body[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(body.slice(start, i));
      start = i + 1;
    }
  }
  out.push(body.slice(start));
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

const COLUMN_CLAUSE = /^(ADD|DROP|MODIFY|RENAME|COMMENT|CLEAR)\s+COLUMN\b/i;

/**
 * What an ALTER changes: its columns (which the Distributed table mirrors), only the local
 * table's storage, or both in the one form ClickHouse requires together: a sorting key can only
 * gain a column in the ALTER that adds it (ADD COLUMN …, MODIFY ORDER BY …).
 */
function alterScope(body: string): 'columns' | 'storage' | 'sorting' {
  const parts = clauses(body);
  const columns = parts.filter((c) => COLUMN_CLAUSE.test(c));
  const storage = parts.filter((c) => !COLUMN_CLAUSE.test(c));
  if (columns.length > 0 && storage.length > 0) {
    if (storage.every((c) => /^MODIFY\s+ORDER\s+BY\b/i.test(c)) && columns.every((c) => /^ADD\s+COLUMN\b/i.test(c))) return 'sorting';
    throw new Error(`cannot make cluster DDL for an ALTER that changes columns and storage at once (split it): ${body.trim()}`);
  }
  return columns.length > 0 ? 'columns' : 'storage';
}

/** The column clauses of an ALTER body alone: what its Distributed twin runs. */
function columnsOnly(body: string): string {
  return ` ${clauses(body)
    .filter((c) => COLUMN_CLAUSE.test(c))
    .join(', ')}`;
}

/**
 * One single-node statement → the statements a cluster runs instead (in order). Without a
 * cluster, the statement itself: single-node DDL is unchanged.
 */
export function forLayout(sql: string, layout: StoreLayout, kind: TableKind = 'data'): string[] {
  if (layout.cluster === undefined) return [sql];
  if (/\bON\s+CLUSTER\b/i.test(sql)) throw new Error(`migrations are written for one node; this one already says ON CLUSTER: ${sql.trim()}`);
  const sharded = kind === 'data' && isSharded(layout);
  const on = onCluster(layout);
  const dedup = (s: string) => s.replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');

  const rename = RENAME.exec(sql);
  if (rename !== null) {
    const [, from = '', to = ''] = rename;
    const renamed = `${sql.trimEnd()} ${on}`;
    // A Distributed table names its local table: the old one would point at a name now gone.
    return sharded ? [`DROP TABLE IF EXISTS ${from}_all ${on} SYNC`, renamed, distributedTable(to, layout)] : [renamed];
  }

  const head = HEAD.exec(sql);
  if (head === null) throw new Error(`cannot make cluster DDL for: ${sql.trim().slice(0, 120)}`);
  const [whole, prefix = '', verb = '', name = ''] = head;
  const rest = sql.slice(whole.length);
  const statement = dedup(`${prefix}${name} ${on}${rest}`);
  const v = verb.toUpperCase().replace(/\s+/g, ' ');

  if (v.startsWith('CREATE TABLE')) {
    if (!ENGINE.test(statement)) throw new Error(`cannot make cluster DDL for ${name}: only MergeTree-family engines replicate`);
    const replicated = replicatedEngine(statement, kind);
    return sharded ? [replicated, distributedTable(name, layout)] : [replicated];
  }
  if (v.startsWith('ALTER TABLE')) {
    // A Distributed table keeps its own column list: it must follow the local table's.
    const scope = alterScope(rest);
    if (sharded && scope === 'columns') return [statement, `${prefix}${name}_all ${on}${rest}`];
    if (sharded && scope === 'sorting') return [statement, `${prefix}${name}_all ${on}${columnsOnly(rest)}`];
    return [statement];
  }
  if (v.startsWith('DROP TABLE')) return sharded ? [`DROP TABLE IF EXISTS ${name}_all ${on} SYNC`, statement] : [statement];
  // Views: materialized views fire on the node an insert reaches and write to that node's
  // (replicated) target, so they need no engine change and no Distributed twin.
  return [statement];
}

/**
 * The tables a list of single-node statements leaves behind (created, renamed to, not dropped
 * or renamed away), in order: what gets a Distributed twin on a sharded cluster.
 */
export function dataTables(statements: readonly string[]): string[] {
  const tables: string[] = [];
  const drop = (name: string) => {
    const i = tables.indexOf(name);
    if (i >= 0) tables.splice(i, 1);
  };
  for (const sql of statements) {
    const rename = RENAME.exec(sql);
    if (rename !== null) {
      drop(rename[1] ?? '');
      tables.push(rename[2] ?? '');
      continue;
    }
    const head = HEAD.exec(sql);
    const verb = head?.[2]?.toUpperCase().replace(/\s+/g, ' ') ?? '';
    const name = head?.[3] ?? '';
    if (verb.startsWith('CREATE TABLE') && !tables.includes(name)) tables.push(name);
    if (verb.startsWith('DROP TABLE')) drop(name);
  }
  return tables;
}

/**
 * A read query's FROM/JOIN tables → the names this layout reads them by (`tableFor`): how
 * SQL written for one node (dashboards) reads every shard. Only the given tables are renamed,
 * so views, subquery aliases and system tables stay as they are. A JOIN or IN subquery in a
 * query over Distributed tables becomes GLOBAL: run once on the initiator over every shard
 * (ClickHouse refuses the plain form, and a per-shard one would join each shard's rows with
 * that shard's totals only).
 */
export function readTables(sql: string, tables: readonly string[], layout: StoreLayout): string {
  if (!isSharded(layout)) return sql;
  const known = new Set(tables);
  const renamed = sql.replace(/\b(FROM|JOIN)(\s+)([A-Za-z_]\w*)\b/gi, (m, kw: string, space: string, name: string) => (known.has(name) ? `${kw}${space}${tableFor(name, layout)}` : m));
  if (renamed === sql) return sql;
  return renamed
    .replace(/(?<!GLOBAL\s+)(?<!ARRAY\s+)\b((?:(?:INNER|LEFT|RIGHT|FULL|CROSS)(?:\s+(?:OUTER|SEMI|ANTI|ANY|ALL|ASOF))?\s+)?JOIN)\b/gi, 'GLOBAL $1')
    .replace(/(?<!GLOBAL\s+)\b((?:NOT\s+)?IN)(\s*\(\s*SELECT\b)/gi, 'GLOBAL $1$2');
}
