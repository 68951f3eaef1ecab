import { ExportResultCode } from '@opentelemetry/core';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { groupEncoder } from '../../gateway/telemetry/group-encoder.js';
import { encodeSpans, type EncodedSpans } from '../../gateway/telemetry/otlp-encoded.js';
import { QueueingSpanProcessor, SEAL_SPANS } from '../../gateway/telemetry/processor.js';

function destination(sample: number, encode: (spans: ReadableSpan[]) => EncodedSpans) {
  const groups: EncodedSpans[] = [];
  const exporter = {
    export: (batch: EncodedSpans[], done: (r: { code: ExportResultCode }) => void) => {
      groups.push(...batch);
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => undefined,
  };
  const processor = new QueueingSpanProcessor(exporter, { maxQueue: 100_000, batchSize: 512, flushMs: 5, sample, onDrop: () => undefined, encode });
  return { groups, processor };
}

const bytesOf = (groups: EncodedSpans[]) => Buffer.concat(groups.map((g) => g.bytes)).toString('hex');

describe('one encoding per group for every destination', () => {
  it('two destinations with the same sample get the same encoded groups (encoded once), by count and by seal timer', async () => {
    const encode = groupEncoder(2, encodeSpans);
    const a = destination(1, encode);
    const b = destination(1, encode);
    const ended: ReadableSpan[] = [];
    const tracer = new BasicTracerProvider({ spanProcessors: [a.processor, b.processor, { onStart: () => undefined, onEnd: (s) => ended.push(s), forceFlush: async () => undefined, shutdown: async () => undefined }] }).getTracer('t');
    for (let i = 0; i < 2 * SEAL_SPANS + 3; i++) tracer.startSpan(`s${i}`, { attributes: { i } }).end();
    await new Promise((r) => setTimeout(r, 30)); // the last 3 sealed by their timers
    for (let i = 0; i < 5; i++) tracer.startSpan(`t${i}`).end();
    await Promise.all([a.processor.forceFlush(), b.processor.forceFlush()]);
    expect(a.groups.map((g) => g.spans)).toEqual([SEAL_SPANS, SEAL_SPANS, 3, 5]);
    expect(b.groups).toHaveLength(a.groups.length);
    a.groups.forEach((g, i) => expect(b.groups[i]).toBe(g));
    expect(bytesOf(b.groups)).toBe(bytesOf(a.groups));
    // Each group's bytes are what encoding its spans alone gives.
    let at = 0;
    for (const g of a.groups) {
      expect(Buffer.from(g.bytes).toString('hex')).toBe(Buffer.from(encodeSpans(ended.slice(at, at + g.spans)).bytes).toString('hex'));
      at += g.spans;
    }
  });

  it('a destination with another sample ratio, or a group differing in one span, is encoded on its own and correctly', () => {
    const encode = groupEncoder(2, encodeSpans);
    const tracer = new BasicTracerProvider().getTracer('t');
    const spans = Array.from({ length: 4 }, (_, i) => {
      const s = tracer.startSpan(`s${i}`);
      s.end();
      return s as unknown as ReadableSpan;
    });
    const first = encode(spans.slice(0, 3));
    expect(encode(spans.slice(0, 3))).toBe(first);
    const other = encode([spans[0], spans[1], spans[3]].filter((s) => s !== undefined));
    expect(other).not.toBe(first);
    expect(Buffer.from(other.bytes).equals(Buffer.from(encodeSpans([spans[0], spans[1], spans[3]].filter((s) => s !== undefined)).bytes))).toBe(true);
    expect(encode(spans.slice(0, 2))).not.toBe(first);
    expect(groupEncoder(1, encodeSpans)).toBe(encodeSpans);
  });
});
