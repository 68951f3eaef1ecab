import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { QueueingSpanProcessor } from './processor.js';
import { spansOf, type FromSpanThread, type SpanThreadData, type ToSpanThread } from './span-messages.js';
import { recordSpans } from './spans.js';

/**
 * The span thread: finished requests in, OTel spans out (the SDK's tracer and the official
 * OTLP/proto exporter), one bounded queue per destination. It runs at the lowest CPU
 * priority (on Linux the nice value belongs to the thread), so building and serialising
 * spans takes only what the proxy's own thread leaves, and a 512-span export (~4 ms of
 * serialisation) never sits between a caller and its answer.
 */
const port = parentPort;
if (port === null) throw new Error('span-worker.js runs as a worker thread');
const data = workerData as SpanThreadData;
try {
  setPriority(19);
} catch {
  // Not permitted here: the thread keeps the process's priority.
}

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
