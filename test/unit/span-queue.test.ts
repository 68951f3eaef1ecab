import { ExportResultCode } from '@opentelemetry/core';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { EncodedSpans } from '../../gateway/telemetry/otlp-encoded.js';
import { QueueingSpanProcessor } from '../../gateway/telemetry/processor.js';

const tracer = new BasicTracerProvider().getTracer('t');
const span = () => {
  const s = tracer.startSpan('chat m');
  s.end();
  return s as unknown as ReadableSpan;
};

describe('span queue', () => {
  it('a steady trickle is exported once per flush interval (or per full batch), not once per export round trip', async () => {
    const batches: number[] = [];
    const exporter = {
      export: (batch: EncodedSpans[], done: (r: { code: ExportResultCode }) => void) => {
        batches.push(batch.reduce((n, g) => n + g.spans, 0));
        setTimeout(() => done({ code: ExportResultCode.SUCCESS }), 15);
      },
      shutdown: async () => undefined,
    };
    const q = new QueueingSpanProcessor(exporter, { maxQueue: 100_000, batchSize: 200, flushMs: 100, sample: 1, onDrop: () => undefined });
    let sent = 0;
    const timer = setInterval(() => {
      q.onEnd(span());
      q.onEnd(span());
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
