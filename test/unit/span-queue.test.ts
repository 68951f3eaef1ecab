import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { ExportResultCode } from '@opentelemetry/core';
import { describe, expect, it } from 'vitest';
import { QueueingSpanProcessor } from '../../gateway/telemetry/processor.js';

// The fields the queue reads: the trace id (sampling) and what it sizes (bounds.ts estimateSpanBytes).
const span = { spanContext: () => ({ traceId: 'abcdef0123456789abcdef0123456789' }), name: 'chat m', attributes: {}, status: { code: 0 }, events: [], links: [] } as unknown as ReadableSpan;

describe('span queue', () => {
  it('a steady trickle is exported once per flush interval (or per full batch), not once per export round trip', async () => {
    const batches: number[] = [];
    const exporter = {
      export: (batch: ReadableSpan[], done: (r: { code: ExportResultCode }) => void) => {
        batches.push(batch.length);
        setTimeout(() => done({ code: ExportResultCode.SUCCESS }), 15);
      },
      shutdown: async () => undefined,
    };
    const q = new QueueingSpanProcessor(exporter, { maxQueue: 100_000, batchSize: 200, flushMs: 100, sample: 1, onDrop: () => undefined });
    let sent = 0;
    const timer = setInterval(() => {
      q.onEnd(span);
      q.onEnd(span);
      sent += 2;
    }, 2);
    await new Promise((r) => setTimeout(r, 1_000));
    clearInterval(timer);
    await q.forceFlush();
    expect(batches.reduce((a, b) => a + b, 0)).toBe(sent);
    // ~1,000 spans in 1 s: 5 full batches, or one per 100 ms interval, never dozens of scraps.
    expect(batches.length).toBeLessThanOrEqual(15);
    expect(batches.filter((n) => n < 20).length).toBeLessThanOrEqual(2);
  });
});
