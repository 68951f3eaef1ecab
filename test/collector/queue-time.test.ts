import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Batcher, buildCollectorServer, QueueFull, Spool, type Row } from '../../collector/index.js';
import { MIN_ADMIT_ROWS } from '../../collector/insert-pace.js';

/**
 * The queue bounded in insert time (maxQueueMs): once an insert has been timed, senders are
 * refused (429 + Retry-After) past maxQueueMs of queued work, well before max_queue_rows, and
 * accepted again once the queue drains. Nothing refused was acknowledged; everything accepted lands.
 */
const base = mkdtempSync(join(tmpdir(), 'keel-queue-time-'));
let n = 0;
const rows = (count: number): Row[] => Array.from({ length: count }, (_, i) => ({ i }));

/** Inserts that take 1 ms per 100 rows, and can be held (a slow ClickHouse) until released. */
function slowStore() {
  let gate: Promise<void> = Promise.resolve();
  let release = () => undefined as void;
  let landed = 0;
  let calls = 0;
  const insert = async (_t: string, r: Row[]) => {
    calls++;
    await gate;
    await new Promise((res) => setTimeout(res, r.length / 100));
    landed += r.length;
  };
  return {
    insert,
    landed: () => landed,
    calls: () => calls,
    hold: (): void => {
      gate = new Promise<void>((res) => (release = res));
    },
    release: () => release(),
  };
}

describe('collector queue bounded in time', () => {
  it('past maxQueueMs of estimated insert work waiting (the running insert not counted): QueueFull long before max_queue_rows; accepted again once drained; all accepted rows land', async () => {
    const store = slowStore();
    const b = new Batcher(store.insert, new Spool(join(base, `s${n++}`)), { batchRows: 1_000_000, flushMs: 5, maxQueueRows: 1_000_000, maxQueueMs: 200, replayMs: 60_000 });
    expect(b.admitRows()).toBe(1_000_000);
    await b.add({ t: rows(5_000) });
    await b.flush();
    // ~0.01 ms per row measured (timers run late, or a hair early): 200 ms of work is ~20,000 rows.
    const admit = b.admitRows();
    expect(admit).toBeGreaterThanOrEqual(MIN_ADMIT_ROWS);
    expect(admit).toBeLessThanOrEqual(22_000);
    store.hold();
    await b.add({ t: rows(1_000) });
    void b.flush();
    await expect.poll(() => store.calls()).toBe(2);
    // The held insert's rows do not count: a whole bound's worth still waits behind it.
    await b.add({ t: rows(admit - 1) });
    await b.add({ t: rows(1) });
    expect(b.admitting()).toBe(false);
    await expect(b.add({ t: rows(1) })).rejects.toBeInstanceOf(QueueFull);
    await expect(b.add({ t: rows(1) })).rejects.toThrow(/ms of inserts/);
    expect(b.stats.refusedQueue).toBe(2);
    store.release();
    await b.flush();
    expect(b.admitting()).toBe(true);
    await b.add({ t: rows(2_000) });
    await b.flush();
    expect(store.landed()).toBe(5_000 + 1_000 + admit + 2_000);
    expect(b.stats.queuedRows).toBe(0);
    await b.close();
  });

  it('without maxQueueMs the same load is taken (max_queue_rows alone); an empty queue takes one request of any size under it', async () => {
    const store = slowStore();
    const b = new Batcher(store.insert, new Spool(join(base, `s${n++}`)), { batchRows: 1_000_000, flushMs: 5, maxQueueRows: 1_000_000, replayMs: 60_000 });
    await b.add({ t: rows(5_000) });
    await b.flush();
    store.hold();
    await b.add({ t: rows(20_000) });
    await b.add({ t: rows(20_000) });
    store.release();
    await b.flush();
    expect(store.landed()).toBe(45_000);
    await b.close();
  });

  it('over HTTP: the time bound answers 429 with Retry-After: 1 (the OTLP exporter waits that long, then sends again)', async () => {
    const store = slowStore();
    const b = new Batcher(store.insert, new Spool(join(base, `s${n++}`)), { batchRows: 1_000_000, flushMs: 5, maxQueueRows: 1_000_000, maxQueueMs: 1, replayMs: 60_000 });
    await b.add({ t: rows(5_000) });
    await b.flush();
    store.hold();
    await b.add({ t: rows(1_000) });
    void b.flush();
    await expect.poll(() => store.calls()).toBe(2);
    await b.add({ t: rows(MIN_ADMIT_ROWS) });
    const app = buildCollectorServer({ batcher: b });
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const span = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 's', startTimeUnixNano: '1', endTimeUnixNano: '2' };
      const res = await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }) });
      expect(res.status).toBe(429);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(((await res.json()) as { message: string }).message).toMatch(/queue full/);
      // Counted for /metrics (keel_collector_refused_queue_total), refused before any body was read.
      expect(b.stats.refusedQueue).toBe(1);
      expect((await (await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/metrics`)).text()).match(/^keel_collector_refused_queue_total 1$/m)).not.toBeNull();
    } finally {
      store.release();
      await app.close();
      await b.close();
    }
  });
});
