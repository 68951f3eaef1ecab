import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRow } from '../../collector/audit.js';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { stamp, type AuditRecord } from '../../config/audit.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { createTelemetry } from '../../gateway/telemetry/index.js';
import { insertRows, queryRows } from '../../store/index.js';

const COLUMNS = 'source, instance, event, subject, detail, config_version, config_hash, actor';

/**
 * A gateway's audit events as `keel.audit` spans, through the real span pipeline (inline and on
 * the span thread), OTLP, the collector and the otel_traces view, back as audit_log rows.
 */
describe('keel.audit spans → audit_log rows', () => {
  let c: RunningCollector;
  const rows = (where: string) => queryRows<Record<string, unknown>>(c.store.client, `SELECT toUnixTimestamp64Milli(ts) AS ms, ${COLUMNS} FROM audit_log WHERE ${where} ORDER BY ts, event`);
  const at = Date.now() - 1000;
  const records = (instance: string): AuditRecord[] =>
    stamp({ source: 'gateway', instance, config: () => ({ version: 3, hash: '0123456789abcdef' }) }, [
      { event: 'config_reloaded', subject: '/etc/keel.yaml', detail: { from_version: 2, changes: 1 } },
      { event: 'key_disabled', subject: 'search-app' },
    ], 'file change', at);

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-audit-spans-'));
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 10_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
  });
  afterAll(async () => {
    await c.close();
  });

  it.each([false, true])('span thread %s: every column arrives as stamped', async (spanThread) => {
    const instance = `gw-${String(spanThread)}`;
    const t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => [], spanFlushMs: 20, env: {}, spanThread });
    t.audit(records(instance));
    await t.flush();
    await t.shutdown();
    await c.batcher.flush();
    const got = await rows(`instance = '${instance}'`);
    expect(got).toEqual(records(instance).map((r) => ({ ms: at, ...auditRow(r), ts: undefined })).map(({ ts: _ts, ...r }) => r));
    // Audit spans are no requests: nothing of them in llm_requests.
    expect((await queryRows<{ n: number }>(c.store.client, "SELECT count() AS n FROM llm_requests WHERE request_id = ''"))[0]?.n).toBe(0);
  });

  it('a replayed otel_traces batch (same insert token) adds no second audit row', async () => {
    const [span] = await queryRows<Record<string, unknown>>(c.store.client, "SELECT * FROM otel_traces WHERE SpanName = 'keel.audit' AND SpanAttributes['keel.audit.instance'] = 'gw-false' LIMIT 1");
    if (span === undefined) throw new Error('no audit span stored');
    const replay = { ...span, SpanAttributes: { ...(span.SpanAttributes as Record<string, string>), 'keel.audit.instance': 'replayed' } };
    await insertRows(c.store.client, 'otel_traces', [replay], 'replay-token');
    await insertRows(c.store.client, 'otel_traces', [replay], 'replay-token');
    expect(await rows("instance = 'replayed'")).toHaveLength(1);
  });

  it("the collector's own rows go through its batcher, exactly once per token as well", async () => {
    const own = stamp({ source: 'collector', instance: 'col-1', config: () => ({ version: 1, hash: 'h' }) }, [{ event: 'slo_alert_fired', subject: 'chat-availability', detail: { kind: 'page' } }], 'slo engine', at);
    await c.batcher.add({ audit_log: own.map(auditRow) });
    await c.batcher.flush();
    expect(await rows("instance = 'col-1'")).toEqual([{ ms: at, source: 'collector', instance: 'col-1', event: 'slo_alert_fired', subject: 'chat-availability', detail: '{"kind":"page"}', config_version: 1, config_hash: 'h', actor: 'slo engine' }]);
  });
});
