import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, type Link } from '@opentelemetry/api';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type IdGenerator, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { queryRows } from '../../store/index.js';

/** Fixed ids, so both exporters send the very same spans. */
class FixedIds implements IdGenerator {
  #n = 0;
  generateTraceId = () => 'ab'.repeat(16);
  generateSpanId = () => (++this.#n).toString(16).padStart(16, '0');
}

function collectorConfig(dir: string) {
  return {
    collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
    store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
  };
}

async function sendSpans(exporter: SpanExporter): Promise<void> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'exporter-test', 'deployment.environment.name': 'ci' }),
    idGenerator: new FixedIds(),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('keel-test', '1.2.3');
  const start = Date.now() - 1000;
  const root = tracer.startSpan('chat gpt-x', {
    kind: SpanKind.SERVER,
    startTime: start,
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 42, 'keel.ratio': 0.5, 'gen_ai.request.stream': true, 'gen_ai.response.finish_reasons': ['stop', 'length'] },
  });
  root.addEvent('first_token', { 'keel.chunk': 1 }, start + 100);
  const link: Link = { context: root.spanContext(), attributes: { why: 'retry-of' } };
  const child = tracer.startSpan('chat upstream', { kind: SpanKind.CLIENT, startTime: start + 10, links: [link] });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 503' });
  child.end(start + 510);
  root.end(start + 750);
  await provider.forceFlush();
  await provider.shutdown();
}

describe('collector ← official OTel exporters', () => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(collectorConfig(mkdtempSync(join(tmpdir(), 'keel-coll-'))));
  }, 60_000);
  afterAll(() => c.close());

  it('protobuf (gzip) and JSON exports produce the same otel_traces rows, in the exporter encoding', async () => {
    await sendSpans(new ProtoExporter({ url: `${c.url}/v1/traces`, compression: CompressionAlgorithm.GZIP }));
    await sendSpans(new HttpJsonExporter({ url: `${c.url}/v1/traces` }));
    // A 200 means on disk; the insert follows within flush_ms.
    await c.batcher.flush();
    const rows = await queryRows<Record<string, unknown>>(
      c.store.client,
      `SELECT SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
              TraceId, SpanId, ParentSpanId, Events.Name, Events.Attributes, Links.TraceId, Links.SpanId, Links.Attributes, count() AS copies
       FROM otel_traces GROUP BY ALL ORDER BY SpanName`,
    );
    expect(rows).toHaveLength(2);
    const [root, upstream] = rows;
    expect(rows.map((r) => r.copies)).toEqual([2, 2]);
    expect(root).toMatchObject({
      SpanName: 'chat gpt-x',
      SpanKind: 'Server',
      ServiceName: 'exporter-test',
      ScopeName: 'keel-test',
      ScopeVersion: '1.2.3',
      Duration: 750_000_000,
      StatusCode: 'Unset',
      TraceId: 'ab'.repeat(16),
      ParentSpanId: '',
      'Events.Name': ['first_token'],
      'Events.Attributes': [{ 'keel.chunk': '1' }],
    });
    expect(root?.SpanAttributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.usage.input_tokens': '42',
      'keel.ratio': '0.5',
      'gen_ai.request.stream': 'true',
      'gen_ai.response.finish_reasons': '["stop","length"]',
    });
    expect((root?.ResourceAttributes as Record<string, string>)['deployment.environment.name']).toBe('ci');
    expect(upstream).toMatchObject({ SpanKind: 'Client', StatusCode: 'Error', StatusMessage: 'upstream 503', Duration: 500_000_000, ParentSpanId: '', 'Links.SpanId': [root?.SpanId], 'Links.Attributes': [{ why: 'retry-of' }] });
    const [ts] = await queryRows<{ n: number }>(c.store.client, `SELECT count() AS n FROM otel_traces_trace_id_ts WHERE TraceId = '${'ab'.repeat(16)}'`);
    expect(ts?.n).toBeGreaterThan(0);
  });

  it('answers malformed bodies with 400, unknown types with 415, and rejects spans without ids as partial success', async () => {
    const bad = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0xff, 0xff, 0xff]) });
    expect(bad.status).toBe(400);
    const badJson = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { message: string }).message).toMatch(/JSON/);
    const text = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
    const partial = await fetch(`${c.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '', spanId: '0102030405060708', name: 'no-trace' }] }] }] }),
    });
    expect(partial.status).toBe(200);
    expect(await partial.json()).toEqual({ partialSuccess: { rejectedSpans: '1', errorMessage: expect.stringMatching(/valid trace or span id/) as unknown } });
  });
});
