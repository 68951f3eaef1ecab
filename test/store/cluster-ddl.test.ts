import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forLayout, layoutStatements, LEDGER, LOCK, MIGRATIONS, UNLOCK, readTable, readTables, tableFor, type StoreLayout } from '../../store/index.js';
import { layoutOf, setLayout } from '../../store/layout.js';
import { createClient } from '@clickhouse/client';

/** Golden files: regenerate with UPDATE_GOLDEN=1 after a deliberate change, and review the diff. */
const golden = resolve(import.meta.dirname, '../golden');
const TTL = { traces: 7, metrics: 7, requests: 30, sli: 400 };
const REPLICATED: StoreLayout = { cluster: 'keel', shards: 1, database: 'keel' };
const SHARDED: StoreLayout = { cluster: 'keel', shards: 2, database: 'keel' };

/** Everything migrate() can run on a fresh cluster, in order: ledger, lock, then each migration. */
export function clusterScript(layout: StoreLayout): { label: string; statements: string[] }[] {
  return [
    { label: 'ledger', statements: layoutStatements(LEDGER, TTL, layout, 'meta') },
    { label: 'migration lock: taken, then released, around each run that has migrations to apply', statements: [...layoutStatements(LOCK, TTL, layout, 'meta'), ...layoutStatements(UNLOCK, TTL, layout, 'meta')] },
    ...MIGRATIONS.map((m) => ({ label: `migration ${m.version}: ${m.name}`, statements: m.statements.flatMap((s) => layoutStatements(s, TTL, layout)) })),
  ];
}

const render = (layout: StoreLayout) =>
  clusterScript(layout)
    .map((b) => `-- ${b.label}\n${b.statements.map((s) => `${s.trim()};`).join('\n\n')}\n`)
    .join('\n');

function matchGolden(name: string, text: string): void {
  const path = join(golden, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

const all = (layout: StoreLayout) => clusterScript(layout).flatMap((b) => b.statements);

describe('cluster DDL (a pure rewrite of the single-node migrations)', () => {
  it('matches the golden files: one shard × N replicas, and 2 shards with Distributed tables', () => {
    matchGolden('cluster-ddl.sql', render(REPLICATED));
    matchGolden('cluster-ddl-sharded.sql', render(SHARDED));
  });

  it('without a cluster, every statement is exactly the single-node one', () => {
    for (const m of MIGRATIONS) for (const s of m.statements) expect(forLayout(s, layoutOf({ database: 'default' }))).toEqual([s]);
  });

  it('every statement runs ON CLUSTER, and every table is Replicated… (or a Distributed view of one)', () => {
    for (const s of all(SHARDED)) {
      expect(s, s).toMatch(/ ON CLUSTER `keel`/);
      const engine = /ENGINE\s*=\s*(\w+)/.exec(s)?.[1];
      if (/^\s*CREATE TABLE/.test(s)) expect(engine, s).toMatch(/^(Replicated\w*MergeTree|Distributed)$/);
    }
    const engines = all(REPLICATED).flatMap((s) => [.../ENGINE = (\w+)\(/g.exec(s) ?? []].slice(1));
    expect(new Set(engines)).toEqual(new Set(['ReplicatedMergeTree', 'ReplicatedAggregatingMergeTree', 'ReplicatedReplacingMergeTree']));
    // Engine parameters follow the replica path: canary_state keeps its version column.
    expect(all(REPLICATED).find((s) => s.includes('canary_state'))).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', ts)");
    // Keel's ledger and lock are one replica set across every shard.
    expect(all(SHARDED)[0]).toContain("ReplicatedMergeTree('/clickhouse/tables/{uuid}/keel_meta', '{shard}-{replica}')");
  });

  it('the dedup window follows the engine: replicated_deduplication_window wherever the single-node DDL had the non-replicated one', () => {
    const single = MIGRATIONS.flatMap((m) => m.statements);
    const withWindow = single.filter((s) => s.includes('non_replicated_deduplication_window = 10000'));
    // otel_traces, otel_traces_trace_id_ts, the 5 metric tables, llm_requests, llm_attempts, sli_1m's ALTER, audit_log and probe_results.
    expect(withWindow.length).toBe(12);
    const cluster = all(REPLICATED);
    expect(cluster.join('\n')).not.toContain('non_replicated_deduplication_window');
    for (const s of withWindow) {
      const [out] = forLayout(s, REPLICATED);
      expect(out).toContain('replicated_deduplication_window = 10000');
    }
    expect(cluster).toContain('ALTER TABLE sli_1m ON CLUSTER `keel` MODIFY SETTING replicated_deduplication_window = 10000');
  });

  it('sharded: each table gets a read-only Distributed twin that follows column changes and renames', () => {
    const s = all(SHARDED);
    for (const t of ['otel_traces', 'otel_traces_trace_id_ts', 'llm_requests', 'llm_attempts', 'sli_1m', 'slo_evaluations', 'alert_events', 'routing_weights', 'canary_state', 'audit_log', 'otel_metrics_gauge']) {
      expect(s, t).toContain(`CREATE TABLE IF NOT EXISTS ${t}_all ON CLUSTER \`keel\` AS ${t} ENGINE = Distributed('keel', 'keel', '${t}')`);
    }
    expect(s.some((x) => x.includes('keel_migrations_all'))).toBe(false);
    // migration 5 adds sli_1m's latency columns: the Distributed table must list them too; migration 8's setting change is the local table's alone.
    // Migration 10 adds customer with a sorting-key change: the twin takes the column and nothing of the ORDER BY.
    const twin = s.filter((x) => x.includes('ALTER TABLE sli_1m_all'));
    expect(twin.map((x) => x.includes('ADD COLUMN IF NOT EXISTS ttft_le'))).toEqual([true, false]);
    expect(twin[1]?.trim()).toBe('ALTER TABLE sli_1m_all ON CLUSTER `keel` ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team');
    expect(s.find((x) => x.trim().startsWith('ALTER TABLE sli_1m ON CLUSTER') && x.includes('MODIFY ORDER BY'))).toContain('customer');
    // migration 8 renames a metrics table: its Distributed table is rebuilt under the new name.
    const rename = s.findIndex((x) => x.startsWith('RENAME TABLE'));
    expect(s.slice(rename - 1, rename + 2)).toEqual([
      'DROP TABLE IF EXISTS otel_metrics_exp_histogram_all ON CLUSTER `keel` SYNC',
      'RENAME TABLE IF EXISTS otel_metrics_exp_histogram TO otel_metrics_exponential_histogram ON CLUSTER `keel`',
      "CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram_all ON CLUSTER `keel` AS otel_metrics_exponential_histogram ENGINE = Distributed('keel', 'keel', 'otel_metrics_exponential_histogram')",
    ]);
    expect(forLayout('DROP TABLE IF EXISTS old SYNC', SHARDED)).toEqual(['DROP TABLE IF EXISTS old_all ON CLUSTER `keel` SYNC', 'DROP TABLE IF EXISTS old ON CLUSTER `keel` SYNC']);
  });

  it('refuses what it cannot make safe, instead of writing a table that would not replicate', () => {
    expect(() => forLayout('CREATE TABLE IF NOT EXISTS m (x UInt8) ENGINE = Memory', REPLICATED)).toThrow(/only MergeTree-family engines replicate/);
    expect(() => forLayout('CREATE TABLE t ON CLUSTER other (x UInt8) ENGINE = MergeTree ORDER BY x', REPLICATED)).toThrow(/already says ON CLUSTER/);
    expect(() => forLayout('INSERT INTO t VALUES (1)', REPLICATED)).toThrow(/cannot make cluster DDL for: INSERT/);
    expect(() => forLayout('ALTER TABLE t ADD COLUMN y UInt8, MODIFY TTL ts + INTERVAL 1 DAY', SHARDED)).toThrow(/columns and storage at once/);
    expect(() => forLayout('ALTER TABLE t DROP COLUMN y, MODIFY ORDER BY (a, b)', SHARDED)).toThrow(/columns and storage at once/);
    expect(forLayout("ALTER TABLE t ADD COLUMN y Map(String, UInt8) DEFAULT map('a,b', 1), MODIFY ORDER BY (a, y)", SHARDED)).toEqual([
      "ALTER TABLE t ON CLUSTER `keel` ADD COLUMN y Map(String, UInt8) DEFAULT map('a,b', 1), MODIFY ORDER BY (a, y)",
      "ALTER TABLE t_all ON CLUSTER `keel` ADD COLUMN y Map(String, UInt8) DEFAULT map('a,b', 1)",
    ]);
  });

  it('the read side names tables through one function: local names, unless the cluster has several shards', () => {
    expect(tableFor('sli_1m', { shards: 1, database: 'default' })).toBe('sli_1m');
    expect(tableFor('sli_1m', REPLICATED)).toBe('sli_1m');
    expect(tableFor('sli_1m', SHARDED)).toBe('sli_1m_all');
    const client = createClient({ url: 'http://127.0.0.1:1' });
    expect(readTable(client, 'llm_attempts')).toBe('llm_attempts');
    setLayout(client, layoutOf({ database: 'keel', cluster: 'keel', shards: 3 }));
    expect(readTable(client, 'llm_attempts')).toBe('llm_attempts_all');
    void client.close();
  });
});

describe('readTables: single-node read SQL → a sharded store', () => {
  const tables = ['llm_attempts', 'sli_1m'];
  it('renames only known tables after FROM/JOIN, and makes joins and IN subqueries GLOBAL', () => {
    const sql = 'SELECT a FROM llm_attempts INNER JOIN (SELECT t FROM llm_attempts) AS x ON 1 ARRAY JOIN arr WHERE route IN (SELECT route FROM sli_1m) AND k NOT IN (SELECT k FROM system.one) AND y IN (1, 2)';
    expect(readTables(sql, tables, SHARDED)).toBe(
      'SELECT a FROM llm_attempts_all GLOBAL INNER JOIN (SELECT t FROM llm_attempts_all) AS x ON 1 ARRAY JOIN arr WHERE route GLOBAL IN (SELECT route FROM sli_1m_all) AND k GLOBAL NOT IN (SELECT k FROM system.one) AND y IN (1, 2)',
    );
    expect(readTables(sql, tables, REPLICATED)).toBe(sql);
    // SQL that reads none of the tables is left alone, joins included.
    expect(readTables('SELECT 1 FROM system.one JOIN system.one AS b ON 1', tables, SHARDED)).toBe('SELECT 1 FROM system.one JOIN system.one AS b ON 1');
  });
});
