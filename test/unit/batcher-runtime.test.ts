import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { Batcher, type Row } from '../../collector/batcher.js';
import { Spool } from '../../collector/spool.js';
import { observeEventLoop } from '../../gateway/telemetry/runtime.js';

describe('collector batcher: write-ahead, grouped inserts', () => {
  const spoolDir = () => mkdtempSync(join(tmpdir(), 'keel-spool-'));
  const recorder = () => {
    const inserts: { table: string; rows: Row[]; token: string }[] = [];
    const insert = async (table: string, rows: Row[], token: string) => void inserts.push({ table, rows, token });
    return { inserts, insert };
  };

  it('answers senders once their rows are on disk; one insert then takes every sender\'s rows', async () => {
    const dir = spoolDir();
    const { inserts, insert } = recorder();
    const b = new Batcher(insert, new Spool(dir), { batchRows: 1000, flushMs: 60_000, maxQueueRows: 10_000, replayMs: 60_000 });
    await Promise.all([b.add({ t: [{ n: 1 }] }), b.add({ t: [{ n: 2 }, { n: 3 }] }), b.add({ t: [{ n: 4 }], u: [{ m: 1 }] })]);
    expect(inserts).toHaveLength(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(4);
    expect(b.stats.queuedRows).toBe(5);
    await b.flush();
    expect(inserts.map((i) => [i.table, i.rows.length])).toEqual([['t', 4], ['u', 1]]);
    expect(new Set(inserts.map((i) => i.token)).size).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
    expect(b.stats).toMatchObject({ insertedRows: 5, queuedRows: 0 });
    await b.close();
  });

  it('a table reaching batch_rows is inserted at once, without waiting for flush_ms', async () => {
    const { inserts, insert } = recorder();
    const b = new Batcher(insert, new Spool(spoolDir()), { batchRows: 3, flushMs: 60_000, maxQueueRows: 10_000, replayMs: 60_000 });
    await b.add({ t: [{ n: 1 }, { n: 2 }] });
    expect(inserts).toHaveLength(0);
    await b.add({ t: [{ n: 3 }] });
    await expect.poll(() => inserts.length).toBe(1);
    await b.close();
  });

  it('after a crash: a group replays under its own token (ClickHouse drops what it saw), lone batches under theirs', async () => {
    const dir = spoolDir();
    const spool = new Spool(dir);
    const a = await spool.put({ table: 't', token: 'member-a', rows: [{ n: 1 }] });
    const b = await spool.put({ table: 't', token: 'member-b', rows: [{ n: 2 }] });
    await spool.group({ table: 't', token: 'group-1', members: [a, b] });
    await spool.put({ table: 't', token: 'lone-c', rows: [{ n: 3 }] });
    const { inserts, insert } = recorder();
    const batcher = new Batcher(insert, spool, { batchRows: 1000, flushMs: 60_000, maxQueueRows: 10_000, replayMs: 60_000 });
    await batcher.replay();
    expect(inserts).toEqual([
      { table: 't', rows: [{ n: 1 }, { n: 2 }], token: 'group-1' },
      { table: 't', rows: [{ n: 3 }], token: 'lone-c' },
    ]);
    expect(readdirSync(dir)).toEqual([]);
    await batcher.close();
  });

  it('ClickHouse refusing: rows stay on disk under their group and land on a later replay', async () => {
    const dir = spoolDir();
    let up = false;
    const landed: Row[] = [];
    const insert = async (_t: string, rows: Row[]) => {
      if (!up) throw new Error('ClickHouse is away');
      landed.push(...rows);
    };
    const b = new Batcher(insert, new Spool(dir), { batchRows: 1000, flushMs: 60_000, maxQueueRows: 10_000, replayMs: 60_000 });
    await b.add({ t: [{ n: 1 }, { n: 2 }] });
    await b.flush();
    expect(readdirSync(dir).filter((f) => f.endsWith('.group'))).toHaveLength(1);
    up = true;
    await b.replay();
    expect(landed).toEqual([{ n: 1 }, { n: 2 }]);
    expect(readdirSync(dir)).toEqual([]);
    await b.close();
  });
});

describe('event-loop delay gauges', () => {
  it('report a blocked loop in seconds, and start again from zero after each collection', async () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const stop = observeEventLoop(provider.getMeter('test'));
    const read = async () => {
      const { resourceMetrics } = await reader.collect();
      const points = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m.dataPoints[0]?.value] as const);
      return Object.fromEntries(points);
    };
    await read();
    await new Promise((r) => setTimeout(r, 30));
    const until = Date.now() + 120;
    while (Date.now() < until) {
      // Busy: the loop is blocked for 120 ms.
    }
    await new Promise((r) => setTimeout(r, 30));
    const blocked = await read();
    expect(blocked['nodejs.eventloop.delay.max']).toBeGreaterThan(0.08);
    expect(blocked['nodejs.eventloop.delay.max']).toBeLessThan(1);
    await new Promise((r) => setTimeout(r, 60));
    const calm = await read();
    expect(calm['nodejs.eventloop.delay.max']).toBeLessThan(0.05);
    stop();
    await provider.shutdown();
  });
});
