import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStore, queryRows, type Store } from '../../store/index.js';

/**
 * Embedded inserts leave otel_traces' skip indexes to the merges (store/client.ts,
 * EMBEDDED_INSERT): a fresh part has none, a merged part has them, and the rows a query finds
 * by trace id are the same either way, as are the views' rows.
 */
describe('skip indexes built by merges, not by embedded inserts', () => {
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-skipidx-')), database: 'default' });
    await migrate(store.client, { traces: 7, metrics: 7, requests: 30, sli: 400 });
  }, 60_000);
  afterAll(() => store.close());

  const span = (seed: string, i: number) => {
    const trace = `${seed}${String(i).padStart(8, '0')}`.padEnd(32, 'e').slice(0, 32);
    const attrs = { 'keel.request_id': `${seed}-${i}`, 'keel.route': 'chat', 'gen_ai.operation.name': 'chat', 'http.response.status_code': '200' };
    return JSON.stringify({ TraceId: trace, Timestamp: String(Date.now() / 1000), SpanId: `${i}`.padStart(16, 'a'), ParentSpanId: '', TraceState: '', SpanName: 'chat chat', SpanKind: 'Server', ServiceName: 'keel', ResourceAttributes: {}, ScopeName: 'keel', ScopeVersion: '1', SpanAttributes: attrs, Duration: 1_000_000, StatusCode: 'Unset', StatusMessage: '' });
  };

  const parts = () => queryRows<{ level: number; idx: number }>(store.client, "SELECT level, toUInt64(secondary_indices_compressed_bytes) AS idx FROM system.parts WHERE database = currentDatabase() AND table = 'otel_traces' AND active ORDER BY level");
  const found = () => queryRows<{ TraceId: string }>(store.client, `SELECT TraceId FROM otel_traces WHERE TraceId IN ('${'aa00000003'.padEnd(32, 'e')}', '${'bb00000007'.padEnd(32, 'e')}') ORDER BY TraceId`);
  const requests = () => queryRows<{ n: number }>(store.client, 'SELECT toUInt32(count()) AS n FROM llm_requests');

  it('fresh parts carry no index; after a merge the part has them, and the same rows are found', async () => {
    for (const seed of ['aa', 'bb']) {
      await store.insert('otel_traces', { format: 'JSONEachRow', lines: Array.from({ length: 20 }, (_, i) => span(seed, i)) }, `skipidx-${seed}`);
    }
    const fresh = await parts();
    expect(fresh.map((p) => [p.level, p.idx])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    const before = await found();
    expect(before.length).toBe(2);
    expect(await requests()).toEqual([{ n: 40 }]);

    await store.client.command({ query: 'OPTIMIZE TABLE otel_traces FINAL' });
    const merged = await parts();
    expect(merged.length).toBe(1);
    expect(merged[0]?.idx).toBeGreaterThan(0);
    expect(await found()).toEqual(before);
    expect(await requests()).toEqual([{ n: 40 }]);
  }, 60_000);
});
