import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Batcher, buildCollectorServer, Spool, startCollector, storeInsert, traceRows, type RunningCollector } from '../../collector/index.js';
import { otlpType } from '../../collector/otlp/proto.js';
import { queryRows } from '../../store/index.js';

/**
 * Nothing the collector acknowledged is lost: not while ClickHouse refuses inserts
 * (the table detached, a real ClickHouse-side failure), not across a restart, and
 * a replay of a batch that did land is not counted twice.
 */
const dir = mkdtempSync(join(tmpdir(), 'keel-faults-'));
const config = {
  collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 50, flush_ms: 10, spool_dir: join(dir, 'spool') },
  store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
};

let seq = 0;
/** One OTLP/JSON request with `n` server spans that the llm_requests view picks up. */
function body(n: number): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, () => {
    const id = (++seq).toString(16).padStart(16, '0');
    return {
      traceId: id.padStart(32, 'f'),
      spanId: id,
      name: 'chat r',
      kind: 2,
      startTimeUnixNano: String(now),
      endTimeUnixNano: String(now + 1_000_000n),
      attributes: [{ key: 'keel.request_id', value: { stringValue: `req-${seq}` } }, { key: 'keel.route', value: { stringValue: 'r' } }],
    };
  });
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'keel' } }] }, scopeSpans: [{ spans }] }] });
}

/** The same spans as OTLP/protobuf, the gateway's encoding: the collector spools these as `.rows` files. */
function protobufBody(n: number): Buffer {
  const json = JSON.parse(body(n)) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
  for (const span of json.resourceSpans[0]?.scopeSpans[0]?.spans ?? []) {
    span.traceId = Buffer.from(String(span.traceId), 'hex');
    span.spanId = Buffer.from(String(span.spanId), 'hex');
  }
  const type = otlpType('ExportTraceServiceRequest');
  return Buffer.from(type.encode(type.fromObject(json)).finish());
}

async function postProtobuf(c: RunningCollector, n: number): Promise<number> {
  const res = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: protobufBody(n) });
  return res.status === 200 ? n : 0;
}

async function post(c: RunningCollector, n: number): Promise<number> {
  const res = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(n) });
  return res.status === 200 ? n : 0;
}

const count = async (c: RunningCollector, table: string) => (await queryRows<{ n: number }>(c.store.client, `SELECT count() AS n FROM ${table}`))[0]?.n ?? -1;

describe('collector faults', () => {
  let c: RunningCollector;
  afterAll(() => c.close());

  it('ClickHouse refusing inserts mid-load: batches are spooled, replayed on recovery, each span stored once', async () => {
    c = await startCollector({ ...config, replayMs: 50 });
    let acked = 0;
    for (let i = 0; i < 5; i++) acked += await post(c, 20);
    await c.store.client.command({ query: 'DETACH TABLE otel_traces' });
    for (let i = 0; i < 10; i++) acked += await post(c, 20);
    expect(readdirSync(config.collector.spool_dir).filter((f) => f.endsWith('.json')).length).toBeGreaterThan(0);
    await c.store.client.command({ query: 'ATTACH TABLE otel_traces' });
    for (let i = 0; i < 5; i++) acked += await post(c, 20);
    await c.batcher.replay();
    expect(acked).toBe(400);
    expect(await count(c, 'otel_traces')).toBe(400);
    expect(await count(c, 'llm_requests')).toBe(400);
    expect(readdirSync(config.collector.spool_dir).filter((f) => f.endsWith('.json'))).toEqual([]);
  });

  it('OTLP/protobuf exports through the same outage: spooled as .rows files (the insert body\'s bytes), replayed, each span stored once', async () => {
    const before = await count(c, 'otel_traces');
    let acked = 0;
    for (let i = 0; i < 3; i++) acked += await postProtobuf(c, 20);
    await c.store.client.command({ query: 'DETACH TABLE otel_traces' });
    for (let i = 0; i < 6; i++) acked += await postProtobuf(c, 20);
    await c.batcher.flush();
    expect(readdirSync(config.collector.spool_dir).filter((f) => f.endsWith('.rows')).length).toBeGreaterThan(0);
    await c.store.client.command({ query: 'ATTACH TABLE otel_traces' });
    await c.batcher.replay();
    expect(acked).toBe(180);
    expect((await count(c, 'otel_traces')) - before).toBe(180);
    expect(readdirSync(config.collector.spool_dir).filter((f) => f.endsWith('.rows') || f.endsWith('.group'))).toEqual([]);
  });

  it('a replayed batch that had already landed is deduplicated, in the table and its views', async () => {
    const rows = traceRows(JSON.parse(body(3)) as Parameters<typeof traceRows>[0]).rows;
    const before = await count(c, 'otel_traces');
    await storeInsert(c.store)('otel_traces', rows, 'already-landed-1');
    // The ack was lost, so the batch was spooled too: the replay must not count it again.
    await new Spool(config.collector.spool_dir).put({ table: 'otel_traces', token: 'already-landed-1', rows });
    await c.batcher.replay();
    expect(await count(c, 'otel_traces')).toBe(before + 3);
    expect(await count(c, 'llm_requests')).toBe(before + 3);
  });

  it('a full queue answers 429 with Retry-After (the exporter backs off), and accepts again once drained', async () => {
    const small = new Batcher(storeInsert(c.store), new Spool(config.collector.spool_dir), { batchRows: 100, flushMs: 10, maxQueueRows: 15, replayMs: 60_000 });
    const app = buildCollectorServer({ batcher: small });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/traces`;
      const send = (n: number) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(n) });
      const full = await send(20);
      expect(full.status).toBe(429);
      expect(full.headers.get('retry-after')).toBe('1');
      expect(((await full.json()) as { message: string }).message).toMatch(/queue full/);
      expect((await send(10)).status).toBe(200);
    } finally {
      await app.close();
      await small.close();
    }
  });

  it('collector restarted mid-load: everything acknowledged before the stop is there after the restart', async () => {
    const before = await count(c, 'otel_traces');
    let acked = 0;
    await c.store.client.command({ query: 'DETACH TABLE otel_traces' });
    const load = Promise.all(Array.from({ length: 10 }, () => post(c, 10).catch(() => 0)));
    await new Promise((r) => setTimeout(r, 20));
    await c.close();
    acked += (await load).reduce((a, b) => a + b, 0);
    // The next process finds the table back and the spool waiting.
    c = await startCollector({ ...config, replayMs: 50 });
    await c.store.client.command({ query: 'ATTACH TABLE otel_traces' }).catch(() => undefined);
    await c.batcher.replay();
    acked += await post(c, 10);
    await c.batcher.flush();
    expect(acked).toBeGreaterThan(0);
    expect(await count(c, 'otel_traces')).toBe(before + acked);
  });
});
