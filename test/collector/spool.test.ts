import { mkdirSync, mkdtempSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Batcher, buildCollectorServer, diskIo, QUARANTINE_DIR, Spool, startCollector, storeInsert, traceRows, type RunningCollector, type SpoolIo } from '../../collector/index.js';
import { queryRows } from '../../store/index.js';

/**
 * A spool that survives a bad disk (issue 13 §3), against real embedded ClickHouse: bad files
 * are quarantined instead of stopping the start or the replay; the spool is bounded in bytes
 * (oldest dropped, counted); a full disk is a 503 the sender retries, never a lost ack.
 */
const dir = mkdtempSync(join(tmpdir(), 'keel-spool-'));
const store = { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } };
const collectorCfg = (spoolDir: string) => ({ host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1_000, flush_ms: 10, spool_dir: spoolDir });

let seq = 0;
/** One OTLP/JSON request of `n` server spans; `tag` goes into each request id (to tell which survived). */
function body(n: number, tag = 'x', nowMs = Date.now()): string {
  const now = BigInt(nowMs) * 1_000_000n;
  const spans = Array.from({ length: n }, () => {
    const id = (++seq).toString(16).padStart(16, '0');
    const attrs = [{ key: 'keel.request_id', value: { stringValue: `${tag}-${seq}` } }, { key: 'keel.route', value: { stringValue: 'r' } }];
    return { traceId: id.padStart(32, 'e'), spanId: id, name: 'chat r', kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n), attributes: attrs };
  });
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'keel' } }] }, scopeSpans: [{ spans }] }] });
}

const rowsOf = (n: number, tag: string) => traceRows(JSON.parse(body(n, tag)) as Parameters<typeof traceRows>[0]).rows;

async function serve(batcher: Batcher) {
  const app = buildCollectorServer({ batcher });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const send = (n: number, tag?: string, nowMs?: number) => fetch(`${base}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(n, tag, nowMs) });
  const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? NaN);
  return { app, base, send, metric };
}

describe('spool on a bad disk', () => {
  let c: RunningCollector;
  afterAll(() => c.close());
  const count = async (where = '1') => Number((await queryRows<{ n: string }>(c.store.client, `SELECT count() AS n FROM otel_traces WHERE ${where}`))[0]?.n ?? -1);

  it('a truncated, a corrupt and an unreadable file at start: quarantined with one line each, the collector starts and replays the rest', async () => {
    const spoolDir = join(dir, 'spool-start');
    const left = new Spool(spoolDir);
    await left.put({ table: 'otel_traces', token: 'good-lone', rows: rowsOf(4, 'good') });
    const truncated = await left.put({ table: 'otel_traces', token: 'cut-short', rows: rowsOf(4, 'cut') });
    truncateSync(join(spoolDir, truncated), 100);
    writeFileSync(join(spoolDir, '000000000000002-broken-manifest.group'), '{"table":"otel_traces","tok');
    writeFileSync(join(spoolDir, '000000000000003-not-a-batch.json'), '[1,2,3]');
    // A directory where a file should be: reading it fails (EISDIR), as an unreadable sector would.
    mkdirSync(join(spoolDir, '000000000000004-unreadable.json'));
    writeFileSync(join(spoolDir, '.000000000000005-half-written.json.tmp'), '{"table":"otel_');
    const lines: string[] = [];
    c = await startCollector({ collector: collectorCfg(spoolDir), store, replayMs: 60_000, log: (m) => lines.push(m) });
    expect(await count("SpanAttributes['keel.request_id'] LIKE 'good-%'")).toBe(4);
    expect(await count("SpanAttributes['keel.request_id'] LIKE 'cut-%'")).toBe(0);
    expect(readdirSync(join(spoolDir, QUARANTINE_DIR)).sort()).toEqual(['000000000000002-broken-manifest.group', '000000000000003-not-a-batch.json', '000000000000004-unreadable.json', truncated].sort());
    expect(readdirSync(spoolDir)).toEqual([QUARANTINE_DIR]);
    expect(lines.filter((l) => l.includes('moved to quarantine/'))).toHaveLength(4);
    expect(lines.filter((l) => /removed 1 half-written temp file/.test(l))).toHaveLength(1);
    const health = (await (await fetch(`${c.url}/healthz`)).json()) as Record<string, number>;
    expect([health.quarantinedFiles, health.tmpRemoved, health.spoolBytes, health.spoolFiles]).toEqual([4, 1, 0, 0]);
    expect((await (await fetch(`${c.url}/metrics`)).text()).match(/^keel_collector_spool_quarantined_files_total 4$/m)).not.toBeNull();
  });

  it('at run time a bad file no longer stalls the replay: the files after it land', async () => {
    const spool = new Spool(join(dir, 'spool-run'));
    await spool.open();
    const batcher = new Batcher(storeInsert(c.store), spool, { batchRows: 1_000, flushMs: 10, maxQueueRows: 100_000, replayMs: 60_000 });
    writeFileSync(join(dir, 'spool-run', '000000000000001-garbage.json'), '\u0000\u0000\u0000');
    await new Spool(join(dir, 'spool-run')).put({ table: 'otel_traces', token: 'after-garbage', rows: rowsOf(3, 'after') });
    await batcher.replay();
    expect(await count("SpanAttributes['keel.request_id'] LIKE 'after-%'")).toBe(3);
    expect(spool.stats.quarantinedFiles).toBe(1);
    await batcher.close();
  });

  it('a one-hour outage, compressed: the spool stays under spool_max_bytes, the oldest batches are dropped and counted, the rest replayed', async () => {
    const CAP = 100_000;
    const T0 = Date.parse('2026-12-01T10:00:00Z');
    let clock = T0;
    const lines: string[] = [];
    const spoolDir = join(dir, 'spool-outage');
    let written = 0;
    const counting: SpoolIo = { writeDurable: (path, data) => ((written += Buffer.byteLength(data)), diskIo.writeDurable(path, data)), syncDir: diskIo.syncDir };
    const spool = new Spool(spoolDir, { now: () => clock, io: counting });
    const batcher = new Batcher(storeInsert(c.store), spool, { batchRows: 1_000, flushMs: 60_000, maxQueueRows: 100_000, replayMs: 3_600_000, spoolMaxBytes: CAP, log: (m) => lines.push(m), now: () => clock });
    const { app, send, metric } = await serve(batcher);
    const before = await count();
    let acked = 0;
    let maxBytes = 0;
    let maxAge = 0;
    await c.store.client.command({ query: 'DETACH TABLE otel_traces' });
    try {
      // Two exports a minute for an hour (10 spans each); every flush fails while the table is gone.
      for (let i = 0; i < 120; i++) {
        clock = T0 + i * 30_000;
        const res = await send(10, `m${String(i).padStart(3, '0')}`, clock);
        expect(res.status).toBe(200);
        acked += 10;
        await batcher.flush();
        maxBytes = Math.max(maxBytes, spool.bytes);
        maxAge = Math.max(maxAge, spool.oldestAgeS());
      }
      const s = batcher.stats;
      expect(written).toBeGreaterThan(5 * CAP);
      expect(maxBytes).toBeLessThanOrEqual(CAP);
      expect(s.droppedFiles).toBeGreaterThan(0);
      expect(s.droppedSpans).toBe(s.droppedFiles * 10);
      expect(await metric('keel_collector_spool_dropped_spans_total')).toBe(s.droppedSpans);
      expect(await metric('keel_collector_spool_bytes')).toBe(spool.bytes);
      // What the cap keeps is the last minutes, so the age gauge stays far below the outage's hour.
      expect(await metric('keel_collector_spool_oldest_age_seconds')).toBeLessThan(20 * 60);
      // Logged, not per file: the first drop, then at most every five (simulated) minutes.
      const dropLines = lines.filter((l) => l.includes('over spool_max_bytes'));
      expect(dropLines.length).toBeGreaterThanOrEqual(1);
      expect(dropLines.length).toBeLessThanOrEqual(13);
      // A restarted collector counts what it finds against the same cap.
      const reopened = new Spool(spoolDir);
      await reopened.open();
      expect(reopened.bytes).toBe(spool.bytes);
      await c.store.client.command({ query: 'ATTACH TABLE otel_traces' });
      await batcher.replay();
      const replayed = (await count()) - before;
      expect(replayed).toBe(acked - s.droppedSpans);
      expect(spool.bytes).toBe(0);
      // The dropped are the oldest: exports m000… up to the drop count, none after it.
      const firstKept = s.droppedFiles;
      expect(await count(`SpanAttributes['keel.request_id'] LIKE 'm${String(firstKept - 1).padStart(3, '0')}-%'`)).toBe(0);
      expect(await count(`SpanAttributes['keel.request_id'] LIKE 'm${String(firstKept).padStart(3, '0')}-%'`)).toBe(10);
      console.log(`[spool cap] written ${written} bytes, cap ${CAP}, max held ${maxBytes}, max age ${maxAge.toFixed(0)} s; acked ${acked} spans, dropped ${s.droppedFiles} files / ${s.droppedSpans} spans, replayed ${replayed} spans`);
    } finally {
      await c.store.client.command({ query: 'ATTACH TABLE otel_traces' }).catch(() => undefined);
      await app.close();
      await batcher.close();
    }
  });

  it('a full disk (ENOSPC): 503 + Retry-After, counted, logged once, nothing half-written; accepted again when space returns, nothing acknowledged lost', async () => {
    const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    let full = false;
    let writes = 0;
    // Full, or failing every second write (so one table of a two-table request lands and the other does not).
    let flaky = false;
    const io: SpoolIo = {
      writeDurable: async (path, data) => {
        writes++;
        if (full || (flaky && writes % 2 === 0)) {
          writeFileSync(path, data.slice(0, 10));
          throw enospc();
        }
        return diskIo.writeDurable(path, data);
      },
      syncDir: diskIo.syncDir,
    };
    const lines: string[] = [];
    const spoolDir = join(dir, 'spool-enospc');
    const spool = new Spool(spoolDir, { io });
    const batcher = new Batcher(storeInsert(c.store), spool, { batchRows: 1_000, flushMs: 10, maxQueueRows: 100_000, replayMs: 60_000, spoolMaxBytes: 1_000_000, log: (m) => lines.push(m) });
    const { app, send, metric } = await serve(batcher);
    const before = await count();
    let acked = 0;
    try {
      acked += (await send(5)).status === 200 ? 5 : 0;
      full = true;
      for (let i = 0; i < 3; i++) {
        const res = await send(5);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect(((await res.json()) as { message: string }).message).toMatch(/cannot write its spool \(ENOSPC/);
      }
      expect(batcher.stats.spoolWriteErrors).toBe(3);
      expect(await metric('keel_collector_spool_write_errors_total')).toBe(3);
      expect(lines.filter((l) => l.includes('cannot write'))).toHaveLength(1);
      full = false;
      flaky = true;
      writes = 0;
      await expect(batcher.add({ otel_traces: rowsOf(2, 'pair'), otel_traces_b: [{ n: 1 }] })).rejects.toThrow(/ENOSPC/);
      flaky = false;
      // A flush that ran while the disk was full could not write its manifest: its batch waits for the replay.
      await batcher.replay();
      await batcher.flush();
      // Neither the half-written temp files nor the table that did get written stay behind.
      expect(readdirSync(spoolDir)).toEqual([]);
      expect(await count("SpanAttributes['keel.request_id'] LIKE 'pair-%'")).toBe(0);
      const back = await send(5);
      expect(back.status).toBe(200);
      acked += 5;
      expect(lines.filter((l) => l.includes('writing again'))).toHaveLength(1);
      await batcher.flush();
      expect((await count()) - before).toBe(acked);
    } finally {
      await app.close();
      await batcher.close();
    }
  });
});

describe('telemetry.collector.spool_max_bytes', () => {
  it('defaults to 1 GiB; the old max_spool_bytes is refused with the new name in the reason', async () => {
    const { telemetrySchema } = await import('../../config/telemetry-schema.js');
    expect(telemetrySchema.parse({}).collector.spool_max_bytes).toBe(1024 * 1024 * 1024);
    const old = telemetrySchema.safeParse({ collector: { max_spool_bytes: 1000 } });
    expect(old.success).toBe(false);
    expect(old.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['collector.max_spool_bytes', expect.stringMatching(/renamed to spool_max_bytes/)]]);
  });
});
