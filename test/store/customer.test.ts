import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, migrate, MIGRATIONS, openStore, queryRows, type Store } from '../../store/index.js';

const TTL = { traces: 7, metrics: 7, requests: 30, sli: 400 };

/** Migration 10: customer beside key_id and team, from the span to llm_requests and sli_1m. */
describe('customer in llm_requests and sli_1m (migration 10)', () => {
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-customer-')), database: 'default' });
    // A store as it was before: rows written then must read '' afterwards.
    await migrate(store.client, TTL, undefined, { migrations: MIGRATIONS.filter((m) => m.version < 10) });
    await insertRows(store.client, 'otel_traces', [span('old-1', { 'keel.key_id': 'app', 'keel.team': 'search' })]);
    expect(await migrate(store.client, TTL)).toEqual(MIGRATIONS.filter((m) => m.version >= 10).map((m) => m.version));
  }, 60_000);
  afterAll(() => store.close());

  function span(id: string, attrs: Record<string, string>): Record<string, unknown> {
    const trace = id.padEnd(32, '0').slice(0, 32);
    return {
      Timestamp: String(Date.now() / 1000), TraceId: trace, SpanId: id.padEnd(16, '0').slice(0, 16), ParentSpanId: '', TraceState: '', SpanName: 'chat chat', SpanKind: 'Server', ServiceName: 'keel',
      ResourceAttributes: {}, ScopeName: 'keel', ScopeVersion: '1', SpanAttributes: { 'keel.request_id': id, 'keel.route': 'chat', 'keel.cost_usd': '0.5', ...attrs }, Duration: 1_000_000, StatusCode: 'Unset', StatusMessage: '',
    };
  }

  it('new spans carry keel.customer into both tables; rows from before read ""; the key never is a column', async () => {
    // One key moved between customers within the minute: sli_1m must keep the two apart even after merges.
    await insertRows(store.client, 'otel_traces', [span('new-1', { 'keel.key_id': 'app', 'keel.team': 'search', 'keel.customer': 'acme' })]);
    await insertRows(store.client, 'otel_traces', [span('new-2', { 'keel.key_id': 'app', 'keel.team': 'search', 'keel.customer': 'globex' })]);
    await store.client.command({ query: 'OPTIMIZE TABLE sli_1m FINAL' });
    const requests = await queryRows<{ request_id: string; customer: string }>(store.client, 'SELECT request_id, customer FROM llm_requests ORDER BY request_id');
    expect(requests).toEqual([
      { request_id: 'new-1', customer: 'acme' },
      { request_id: 'new-2', customer: 'globex' },
      { request_id: 'old-1', customer: '' },
    ]);
    const sli = await queryRows<{ customer: string; usd: number; n: number }>(store.client, 'SELECT customer, sum(cost_usd) AS usd, toUInt32(sum(requests)) AS n FROM sli_1m GROUP BY customer ORDER BY customer');
    expect(sli).toEqual([
      { customer: '', usd: 0.5, n: 1 },
      { customer: 'acme', usd: 0.5, n: 1 },
      { customer: 'globex', usd: 0.5, n: 1 },
    ]);
    const columns = await queryRows<{ table: string; name: string }>(store.client, "SELECT table, name FROM system.columns WHERE database = currentDatabase() AND table IN ('llm_requests', 'sli_1m') AND (name LIKE '%key%' OR name = 'customer') ORDER BY table, name");
    expect(columns).toEqual([
      { table: 'llm_requests', name: 'customer' },
      { table: 'llm_requests', name: 'key_id' },
      { table: 'sli_1m', name: 'customer' },
      { table: 'sli_1m', name: 'key_id' },
    ]);
  });
});
