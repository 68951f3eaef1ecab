import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layoutStatements, LEDGER, LOCK, MIGRATIONS, UNLOCK, type StoreLayout } from '../../store/index.js';

/**
 * chDB has no Keeper, so it can run neither ON CLUSTER nor a Replicated… engine. What it can
 * run is executed here, so the generated cluster DDL is more than strings:
 * 1. every statement with ON CLUSTER stripped and the Replicated… engines back to their local
 *    twins (replicated_deduplication_window kept: a MergeTree setting either way), Distributed
 *    tables included, on a chDB given a two-shard `remote_servers`: column lists, engine
 *    parameters, settings, TTLs, views and the Distributed tables over them all run;
 * 2. every Replicated… CREATE with only ON CLUSTER stripped (and an explicit UUID, which
 *    `{uuid}` needs outside ON CLUSTER): ClickHouse checks the engine's parameters, columns,
 *    keys and settings before it asks for Keeper, so NO_ZOOKEEPER, and no other error, means
 *    the statement is sound up to replication itself.
 */
const TTL = { traces: 7, metrics: 7, requests: 30, sli: 400 };
const LAYOUT: StoreLayout = { cluster: 'keel', shards: 2, database: 'default' };

const stripCluster = (sql: string) => sql.replace(/ ON CLUSTER `keel`/g, '');
/** ReplicatedXMergeTree(path, replica[, args]) → XMergeTree(args). */
const localEngine = (sql: string) =>
  sql.replace(/Replicated(\w*MergeTree)\('[^']*', '[^']*'(?:, ([^()]*))?\)/g, (_m, engine: string, args: string | undefined) => `${engine}(${args ?? ''})`);

const script = () => [
  ...layoutStatements(LEDGER, TTL, LAYOUT, 'meta'),
  ...layoutStatements(LOCK, TTL, LAYOUT, 'meta'),
  ...layoutStatements(UNLOCK, TTL, LAYOUT, 'meta'),
  ...MIGRATIONS.flatMap((m) => m.statements.flatMap((s) => layoutStatements(s, TTL, LAYOUT))),
];

describe('cluster DDL executed on chDB (all but the Keeper parts)', () => {
  let session: Session;
  const rows = <T>(sql: string): T[] =>
    session
      .query(sql, 'JSONEachRow')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as T);

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-cluster-chdb-'));
    const config = join(dir, 'cluster.xml');
    // Two shards that no server answers: enough for Distributed tables to be created and described.
    writeFileSync(
      config,
      `<clickhouse>
  <remote_servers><keel>
    <shard><replica><host>127.0.0.1</host><port>1</port></replica></shard>
    <shard><replica><host>127.0.0.2</host><port>1</port></replica></shard>
  </keel></remote_servers>
  <macros><shard>01</shard><replica>clickhouse-01</replica></macros>
</clickhouse>
`,
    );
    session = new Session(join(dir, 'data'), { connectionArgs: [`--config-file=${config}`] });
  });
  afterAll(() => session.cleanup());

  it('every statement runs with the cluster parts stripped, Distributed tables included', () => {
    const statements = script().map((s) => localEngine(stripCluster(s)));
    expect(statements.join('\n')).not.toMatch(/ON CLUSTER|Replicated/);
    for (const s of statements) expect(() => session.query(s), s).not.toThrow();
    const tables = rows<{ name: string; engine: string }>("SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name");
    const byName = new Map(tables.map((t) => [t.name, t.engine]));
    for (const t of ['otel_traces', 'llm_requests', 'llm_attempts', 'sli_1m', 'canary_state', 'otel_metrics_exponential_histogram']) {
      expect(byName.get(`${t}_all`), t).toBe('Distributed');
    }
    expect(byName.has('otel_metrics_exp_histogram_all')).toBe(false);
    expect(byName.get('canary_state')).toBe('ReplacingMergeTree');
    expect(byName.get('sli_1m')).toBe('AggregatingMergeTree');
  });

  it('each Distributed table has its local table’s columns, sli_1m’s later latency columns included', () => {
    const columns = (t: string) => rows<{ name: string; type: string }>(`DESCRIBE TABLE ${t}`).map((c) => `${c.name} ${c.type}`);
    for (const t of ['otel_traces', 'otel_traces_trace_id_ts', 'llm_requests', 'llm_attempts', 'sli_1m', 'slo_evaluations', 'alert_events', 'routing_weights', 'canary_state', 'audit_log', 'otel_metrics_exponential_histogram']) {
      expect(columns(`${t}_all`), t).toEqual(columns(t));
    }
    expect(columns('sli_1m_all')).toContain('ttft_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64))');
  });

  it('the dedup window is set where the collector relies on it, and the Distributed tables refuse inserts', () => {
    for (const t of ['otel_traces', 'llm_requests', 'llm_attempts', 'sli_1m', 'audit_log', 'probe_results']) {
      const [row] = rows<{ q: string }>(`SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = '${t}'`);
      expect(row?.q, t).toMatch(/replicated_deduplication_window = 10000/);
    }
    // No sharding key: rows never bypass the local tables and their dedup tokens.
    expect(() => session.query("INSERT INTO routing_weights_all (version) VALUES ('v')")).toThrow(/STORAGE_REQUIRES_PARAMETER|sharding key/);
  });

  it('every Replicated… CREATE gets as far as asking for Keeper: its parameters, columns and settings are sound', () => {
    let n = 0;
    for (const s of script().filter((x) => /ENGINE = Replicated/.test(x))) {
      n += 1;
      const uuid = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
      // A fresh name, so IF NOT EXISTS cannot skip the engine (the first test created these tables locally).
      const probe = stripCluster(s).replace(/^(\s*CREATE TABLE (?:IF NOT EXISTS )?)(\w+)/, `$1probe_${n}_$2 UUID '${uuid}'`);
      expect(() => session.query(probe), probe).toThrow(/NO_ZOOKEEPER/);
    }
    // 18 with probe_results (migration 12).
    expect(n).toBe(18);
    // And the check can fail: a broken parameter is reported before Keeper is.
    expect(() =>
      session.query(`CREATE TABLE broken UUID '00000000-0000-4000-8000-999999999999' (ts DateTime) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', nope) ORDER BY ts`),
    ).toThrow(/NO_SUCH_COLUMN_IN_TABLE|does not exist/);
  });
});
