import { parentPort, workerData } from 'node:worker_threads';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { QueueingSpanProcessor } from './processor.js';
import { spansOf, type FromSpanThread, type SpanThreadData, type ToSpanThread } from './span-messages.js';
import { recordSpans } from './spans.js';

/**
 * The span thread: finished requests in, OTel spans out (the SDK's tracer and the official
 * OTLP/proto exporter), one bounded queue per destination. Building and serialising spans
 * (a 512-span export is ~4 ms of serialisation) happens here, not on the gateway's event
 * loop, and runs in parallel with it wherever a second core is free.
 * It keeps the process's priority on purpose: at nice 19 it starved whenever the gateway
 * thread saturated its core (bench, concurrency 64: 272,030 of 357,626 spans dropped at
 * the hand-over); at equal priority the scheduler gives it the ~30 % it needs there.
 */
const port = parentPort;
if (port === null) throw new Error('span-worker.js runs as a worker thread');
const data = workerData as SpanThreadData;

const post = (m: FromSpanThread) => port.postMessage(m);
const processors = data.destinations.map((d) => {
  const exporter = d.url === undefined ? new OTLPTraceExporter() : new OTLPTraceExporter({ url: d.url, headers: d.headers, timeoutMillis: data.exportTimeoutMs });
  return new QueueingSpanProcessor(exporter, { maxQueue: data.maxQueueSpans, batchSize: 512, flushMs: data.flushMs, sample: d.sample, onDrop: (spans) => post({ type: 'dropped', destination: d.name, spans }) });
});
const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': data.serviceName }), spanProcessors: processors });
const tracer = provider.getTracer('keel');

port.on('message', (m: ToSpanThread) => {
  if (m.type === 'records') {
    for (const rec of m.records) {
      try {
        recordSpans(tracer, rec);
      } catch {
        post({ type: 'dropped', destination: 'record', spans: spansOf([rec]) });
      }
    }
    post({ type: 'done', records: m.records.length, spans: spansOf(m.records) });
    return;
  }
  const done = m.type === 'flush' ? provider.forceFlush() : provider.shutdown();
  void done.finally(() => post({ type: 'flushed', id: m.id }));
});
