import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, migrate, openStore, queryRows, type Store } from '../../store/index.js';

/**
 * Exactly once to the last table: a batch inserted twice with its dedup token (what the
 * collector's replay does after a timeout or a crash between ClickHouse's acknowledgement
 * and the spool deletion) must leave every table unchanged, the views' targets included
 * (otel_traces → llm_requests → sli_1m is two views deep).
 */
const TABLES = ['otel_traces', 'otel_traces_trace_id_ts', 'llm_requests', 'llm_attempts', 'otel_metrics_sum'] as const;

describe('dedup tokens hold through every materialized view', () => {
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-dedup-')), database: 'default' });
    await migrate(store.client, { traces: 7, metrics: 7, requests: 30, sli: 400 });
  }, 60_000);
  afterAll(() => store.close());

  function spans(n: number, seed: string): Record<string, unknown>[] {
    const now = Date.now() / 1000;
    const base = { ParentSpanId: '', TraceState: '', ServiceName: 'keel', ResourceAttributes: {}, ScopeName: 'keel', ScopeVersion: '1', StatusMessage: '' };
    return Array.from({ length: n }, (_, i) => {
      const attrs = { 'keel.request_id': `${seed}-${i}`, 'keel.route': 'chat', 'keel.provider': 'oai', 'gen_ai.operation.name': 'chat', 'http.response.status_code': i % 5 === 0 ? '502' : '200', 'keel.error.class': i % 5 === 0 ? 'provider_error' : '' };
      const trace = `${seed}${String(i).padStart(8, '0')}`.padEnd(32, 'f').slice(0, 32);
      return [
        { ...base, TraceId: trace, Timestamp: String(now), SpanId: `${i}`.padStart(16, 'b'), SpanName: 'chat chat', SpanKind: 'Server', SpanAttributes: attrs, Duration: 1_000_000, StatusCode: i % 5 === 0 ? 'Error' : 'Unset' },
        { ...base, TraceId: trace, Timestamp: String(now), SpanId: `${i}`.padStart(16, 'c'), ParentSpanId: `${i}`.padStart(16, 'b'), SpanName: 'chat m', SpanKind: 'Client', SpanAttributes: { ...attrs, 'keel.attempt.index': '0' }, Duration: 900_000, StatusCode: 'Unset' },
      ];
    }).flat();
  }

  const metric = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ ServiceName: 'keel', MetricName: 'keel.requests', Attributes: { i: String(i) }, StartTimeUnix: String(Date.now() / 1000), TimeUnix: String(Date.now() / 1000), Value: 1, AggregationTemporality: 2, IsMonotonic: true }));

  async function totals(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of TABLES) out[t] = Number((await queryRows<{ n: number }>(store.client, `SELECT count() AS n FROM ${t}`))[0]?.n);
    const [sli] = await queryRows<{ requests: number; bad: number }>(store.client, 'SELECT toUInt32(sum(requests)) AS requests, toUInt32(sum(bad)) AS bad FROM sli_1m');
    out.sli_1m_requests = sli?.requests ?? -1;
    out.sli_1m_bad = sli?.bad ?? -1;
    return out;
  }

  it('a batch inserted twice with its token changes no table, sli_1m included', async () => {
    const batch = spans(50, 'aa');
    await insertRows(store.client, 'otel_traces', batch, 'group-1:otel_traces');
    await insertRows(store.client, 'otel_metrics_sum', metric(10), 'group-1:otel_metrics_sum');
    const once = await totals();
    expect(once).toEqual({ otel_traces: 100, otel_traces_trace_id_ts: 50, llm_requests: 50, llm_attempts: 50, otel_metrics_sum: 10, sli_1m_requests: 50, sli_1m_bad: 10 });
    await insertRows(store.client, 'otel_traces', batch, 'group-1:otel_traces');
    await insertRows(store.client, 'otel_metrics_sum', metric(10), 'group-1:otel_metrics_sum');
    expect(await totals()).toEqual(once);
  });

  it('another batch with its own token still lands everywhere', async () => {
    const before = await totals();
    await insertRows(store.client, 'otel_traces', spans(20, 'bb'), 'group-2:otel_traces');
    const after = await totals();
    expect((after.llm_requests ?? 0) - (before.llm_requests ?? 0)).toBe(20);
    expect((after.sli_1m_requests ?? 0) - (before.sli_1m_requests ?? 0)).toBe(20);
  });
});
