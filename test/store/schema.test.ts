import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, migrate, openStore, queryRows, queryText, type Store } from '../../store/index.js';

/**
 * The OpenTelemetry Collector clickhouseexporter's otel_traces columns and types
 * (shared/reference/standards.md §2.2), as DESCRIBE shows them: Nested columns
 * appear as one Array column per field.
 */
const REFERENCE_OTEL_TRACES: [string, string][] = [
  ['Timestamp', 'DateTime64(9)'],
  ['TraceId', 'String'],
  ['SpanId', 'String'],
  ['ParentSpanId', 'String'],
  ['TraceState', 'String'],
  ['SpanName', 'LowCardinality(String)'],
  ['SpanKind', 'LowCardinality(String)'],
  ['ServiceName', 'LowCardinality(String)'],
  ['ResourceAttributes', 'Map(LowCardinality(String), String)'],
  ['ScopeName', 'String'],
  ['ScopeVersion', 'String'],
  ['SpanAttributes', 'Map(LowCardinality(String), String)'],
  ['Duration', 'UInt64'],
  ['StatusCode', 'LowCardinality(String)'],
  ['StatusMessage', 'String'],
  ['Events.Timestamp', 'Array(DateTime64(9))'],
  ['Events.Name', 'Array(LowCardinality(String))'],
  ['Events.Attributes', 'Array(Map(LowCardinality(String), String))'],
  ['Links.TraceId', 'Array(String)'],
  ['Links.SpanId', 'Array(String)'],
  ['Links.TraceState', 'Array(String)'],
  ['Links.Attributes', 'Array(Map(LowCardinality(String), String))'],
];

const REFERENCE_TRACE_ID_TS: [string, string][] = [
  ['TraceId', 'String'],
  ['Start', 'DateTime'],
  ['End', 'DateTime'],
];

const METRIC_COMMON = [
  'ResourceAttributes', 'ResourceSchemaUrl', 'ScopeName', 'ScopeVersion', 'ScopeAttributes', 'ScopeDroppedAttrCount', 'ScopeSchemaUrl',
  'ServiceName', 'MetricName', 'MetricDescription', 'MetricUnit', 'Attributes', 'StartTimeUnix', 'TimeUnix',
];

describe('store schema', () => {
  let store: Store;
  const ttl = { traces: 7, metrics: 7, requests: 30, sli: 400 };
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-store-')), database: 'default' });
    await migrate(store.client, ttl);
  }, 60_000);
  afterAll(() => store.close());

  const describeTable = async (table: string) =>
    (await queryRows<{ name: string; type: string }>(store.client, `DESCRIBE TABLE ${table}`)).map((c) => [c.name, c.type]);

  it('otel_traces has exactly the clickhouseexporter columns, names and types, in order', async () => {
    expect(await describeTable('otel_traces')).toEqual(REFERENCE_OTEL_TRACES);
  });

  it('otel_traces keeps the exporter engine layout: partition, order, TTL', async () => {
    const [t] = await queryRows<{ partition_key: string; sorting_key: string; create_table_query: string }>(
      store.client,
      "SELECT partition_key, sorting_key, create_table_query FROM system.tables WHERE name = 'otel_traces'",
    );
    expect(t?.partition_key).toBe('toDate(Timestamp)');
    expect(t?.sorting_key).toBe('ServiceName, SpanName, toDateTime(Timestamp)');
    expect(t?.create_table_query).toMatch(/TTL toDateTime\(Timestamp\) \+ toIntervalDay\(7\)/);
    expect(await describeTable('otel_traces_trace_id_ts')).toEqual(REFERENCE_TRACE_ID_TS);
  });

  it('metrics tables carry the common columns plus their own', async () => {
    for (const [table, own] of [
      ['otel_metrics_gauge', ['Value', 'Flags']],
      ['otel_metrics_sum', ['Value', 'Flags', 'AggregationTemporality', 'IsMonotonic']],
      ['otel_metrics_histogram', ['Count', 'Sum', 'BucketCounts', 'ExplicitBounds', 'Flags', 'Min', 'Max', 'AggregationTemporality']],
      ['otel_metrics_exponential_histogram', ['Count', 'Sum', 'Scale', 'ZeroCount', 'PositiveOffset', 'PositiveBucketCounts', 'NegativeOffset', 'NegativeBucketCounts', 'Flags', 'Min', 'Max', 'AggregationTemporality']],
      ['otel_metrics_summary', ['Count', 'Sum', 'ValueAtQuantiles.Quantile', 'ValueAtQuantiles.Value', 'Flags']],
    ] as const) {
      const names = (await describeTable(table)).map(([n]) => n);
      expect(names.slice(0, METRIC_COMMON.length)).toEqual(METRIC_COMMON);
      expect(names).toEqual(expect.arrayContaining([...own]));
    }
  });

  it("the exporter's tables are all there under the exporter's names (an OpenTelemetry Collector can write them)", async () => {
    const names = (await queryRows<{ name: string }>(store.client, 'SELECT name FROM system.tables WHERE database = currentDatabase()')).map((t) => t.name);
    // standards.md §2.1 lists `otel_metrics_exp_histogram`; the exporter (and ClickHouse's own tests of it) write `otel_metrics_exponential_histogram`.
    for (const t of ['otel_traces', 'otel_traces_trace_id_ts', 'otel_traces_trace_id_ts_mv', 'otel_metrics_gauge', 'otel_metrics_sum', 'otel_metrics_histogram', 'otel_metrics_exponential_histogram', 'otel_metrics_summary']) {
      expect(names, t).toContain(t);
    }
    expect(names).not.toContain('otel_metrics_exp_histogram');
  });

  it('a read-only user query leaves the writer able to insert (chDB keeps settings per session)', async () => {
    expect(await queryText(store.reader(), 'SELECT 1 AS one')).toMatch(/^one\n─+\n1\n\(1 row\)/);
    await expect(store.reader().command({ query: 'CREATE TABLE nope (x UInt8) ENGINE = Memory' })).rejects.toThrow(/readonly/);
    await insertRows(store.client, 'keel_migrations', [{ version: 999, name: 'probe' }]);
    expect((await queryRows<{ n: number }>(store.client, 'SELECT count() AS n FROM keel_migrations WHERE version = 999'))[0]?.n).toBe(1);
    await store.client.command({ query: 'ALTER TABLE keel_migrations DELETE WHERE version = 999 SETTINGS mutations_sync = 1' });
  });

  it('migrations are recorded and idempotent', async () => {
    expect(await migrate(store.client, ttl)).toEqual([]);
    const versions = await queryRows<{ version: number }>(store.client, 'SELECT version FROM keel_migrations ORDER BY version');
    expect(versions.map((v) => Number(v.version))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('a server span flows through llm_requests into sli_1m; a client span into llm_attempts', async () => {
    // Recent: rows older than a table's TTL are dropped on insert.
    const now = Math.floor(Date.now() / 1000);
    const base = { TraceId: 'a'.repeat(32), ParentSpanId: '', TraceState: '', ServiceName: 'keel', ResourceAttributes: {}, ScopeName: 'keel', ScopeVersion: '1', StatusMessage: '' };
    const attrs = {
      'keel.request_id': 'r1', 'keel.route': 'chat', 'keel.provider': 'oai', 'gen_ai.operation.name': 'chat', 'gen_ai.response.model': 'gpt-x',
      'gen_ai.request.stream': 'true', 'gen_ai.response.time_to_first_chunk': '0.25', 'gen_ai.usage.input_tokens': '10', 'gen_ai.usage.output_tokens': '20',
      'keel.cost_usd': '0.0015', 'keel.fallback_used': 'true', 'gen_ai.response.finish_reasons': '["stop"]', 'http.response.status_code': '200',
    };
    await insertRows(store.client, 'otel_traces', [
        { ...base, Timestamp: String(now), SpanId: 'b'.repeat(16), SpanName: 'chat chat', SpanKind: 'Server', SpanAttributes: attrs, Duration: 1_500_000_000, StatusCode: 'Unset' },
        { ...base, Timestamp: String(now + 0.1), SpanId: 'c'.repeat(16), ParentSpanId: 'b'.repeat(16), SpanName: 'chat gpt-x', SpanKind: 'Client', SpanAttributes: { ...attrs, 'keel.attempt.index': '1', 'keel.attempt.reason': 'fallback', 'gen_ai.request.model': 'gpt-x' }, Duration: 1_000_000_000, StatusCode: 'Unset' },
    ]);
    const [req] = await queryRows<Record<string, unknown>>(store.client, 'SELECT route, stream, ttft_ms, duration_ms, output_tokens, cost_usd, fallback_used, finish_reasons FROM llm_requests');
    expect(req).toEqual({ route: 'chat', stream: true, ttft_ms: 250, duration_ms: 1500, output_tokens: 20, cost_usd: 0.0015, fallback_used: true, finish_reasons: ['stop'] });
    const [att] = await queryRows<Record<string, unknown>>(store.client, 'SELECT attempt_index, attempt_reason, model, duration_ms FROM llm_attempts');
    expect(att).toEqual({ attempt_index: 1, attempt_reason: 'fallback', model: 'gpt-x', duration_ms: 1000 });
    const [sli] = await queryRows<Record<string, unknown>>(
      store.client,
      "SELECT sum(requests) AS n, sum(bad) AS bad, sum(fallbacks) AS fb, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms)[1] AS ttft_p50 FROM sli_1m WHERE route = 'chat'",
    );
    expect(sli).toEqual({ n: 1, bad: 0, fb: 1, ttft_p50: 250 });
    // 250 ms falls in the 300 ms bucket of the latency ladder.
    const [le] = await queryRows<{ le: Record<string, number> }>(store.client, "SELECT sumMap(ttft_le) AS le FROM sli_1m WHERE route = 'chat'");
    expect(le?.le).toEqual({ '300': 1 });
  });
});
