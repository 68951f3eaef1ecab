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

describe('span groups', () => {
  it('spans ending close together are encoded as one group of at most SEAL_SPANS, and a batch of groups decodes as every span', async () => {
    const { SEAL_SPANS } = await import('../../gateway/telemetry/processor.js');
    const { decodeRequest } = await import('../../collector/otlp/decode.js');
    const groups: number[] = [];
    const decoded: number[] = [];
    const exporter = {
      export: (batch: EncodedSpans[], done: (r: { code: ExportResultCode }) => void) => {
        groups.push(...batch.map((g) => g.spans));
        const body = Buffer.concat(batch.map((g) => g.bytes));
        decoded.push((decodeRequest('traces', body, 'protobuf', false).resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? [])).length);
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: async () => undefined,
    };
    const q = new QueueingSpanProcessor(exporter, { maxQueue: 100_000, batchSize: 512, flushMs: 50, sample: 1, onDrop: () => undefined });
    for (let i = 0; i < 2 * SEAL_SPANS + 5; i++) q.onEnd(span());
    await q.forceFlush();
    expect(groups).toEqual([SEAL_SPANS, SEAL_SPANS, 5]);
    expect(decoded.reduce((a, b) => a + b, 0)).toBe(2 * SEAL_SPANS + 5);
  });
});
