import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Batcher, type Row } from '../../collector/batcher.js';
import { Spool } from '../../collector/spool.js';
import { observeEventLoop } from '../../gateway/telemetry/runtime.js';

describe('collector batcher: group commit', () => {
  afterEach(() => vi.useRealTimers());

  it('rows that arrive during an insert go out right after it, not after another flush_ms', async () => {
    vi.useFakeTimers();
    const inserts: { rows: Row[]; finish: () => void }[] = [];
    const insert = (_table: string, rows: Row[]) => new Promise<void>((finish) => inserts.push({ rows, finish }));
    const b = new Batcher(insert, new Spool(mkdtempSync(join(tmpdir(), 'keel-spool-'))), { batchRows: 1000, flushMs: 5_000, maxQueueRows: 10_000, replayMs: 60_000 });
    const first = b.add({ t: [{ n: 1 }] });
    // An idle collector waits flush_ms for company, then inserts.
    await vi.advanceTimersByTimeAsync(4_999);
    expect(inserts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(inserts).toHaveLength(1);
    const second = b.add({ t: [{ n: 2 }, { n: 3 }] });
    const third = b.add({ t: [{ n: 4 }] });
    inserts[0]?.finish();
    await first;
    // No timer advanced: the rows that waited during the first insert are already being inserted, together.
    await vi.advanceTimersByTimeAsync(0);
    expect(inserts).toHaveLength(2);
    expect(inserts[1]?.rows).toEqual([{ n: 2 }, { n: 3 }, { n: 4 }]);
    inserts[1]?.finish();
    await Promise.all([second, third]);
    expect(b.stats).toMatchObject({ insertedRows: 4, queuedRows: 0 });
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
