import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { AuditRecord } from '../../config/audit.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ProbeRecord } from '../probes/types.js';
import { recordAuditSpans } from './audit-spans.js';
import { recordProbeSpans } from './probes.js';
import { SPAN_LIMITS } from './bounds.js';
import { within, type SpanShutdown } from './flush.js';
import { groupEncoder } from './group-encoder.js';
import { otlpEncodedExporter } from './otlp-encoded.js';
import { QueueingSpanProcessor } from './processor.js';
import { spansOf, type SpanThreadData } from './span-messages.js';
import { recordSpans } from './spans.js';
import { PresetIds } from './trace-ids.js';

/**
 * Spans per export, inline or on the span thread (each export is also bounded in encoded
 * bytes: EXPORT_BATCH_BYTES, processor.ts; spans are encoded in small groups as they end, so
 * the export's size sets only the collector's per-export cost, not a burst of encoding). 128-span exports inline cut no tail latency
 * measurable here and made the collector's fixed cost per export (a spool fsync) 3x its CPU
 * per request at concurrency 1 (overhead bench: 0.34 ms with 512-span exports, 1.04 with 128).
 */
const EXPORT_SPANS = 512;

/** Where finished requests go to become spans: on the gateway's thread or on a span thread. */
export interface SpanSink {
  record(rec: CompletedRequest): void;
  /** Audit events (config changes): one `keel.audit` span each, to the same destinations. */
  audit(records: AuditRecord[]): void;
  /** Active health checks: one `keel.probe` span each. */
  probes(records: ProbeRecord[]): void;
  flush(): Promise<void>;
  /** Exports what is left and stops; with a deadline, gives up at it. Resolves with the spans dropped at the end. */
  shutdown(o?: SpanShutdown): Promise<number>;
  /** Spans not yet exported by the slowest destination (what a shutdown cut now would lose). */
  held(): number;
}

/**
 * Finished requests in, OTel spans out: the SDK's tracer, Keel's OTLP/protobuf encoder (otlp/,
 * byte-identical to the SDK's serializer; one encoding per group shared by the destinations,
 * group-encoder.ts) and the official OTLP/HTTP transport (otlp-encoded.ts), one bounded queue per destination, drops counted. Runs wherever it is
 * created: in the span thread (span-worker.ts) or on the gateway's own thread.
 */
export function createSpanPipeline(data: SpanThreadData, onDrop: (destination: string, spans: number) => void): SpanSink {
  const encode = groupEncoder(data.destinations.length);
  const named = data.destinations.map((d) => {
    const exporter = d.url === undefined ? otlpEncodedExporter() : otlpEncodedExporter({ url: d.url, headers: d.headers, timeoutMillis: data.exportTimeoutMs });
    return { name: d.name, processor: new QueueingSpanProcessor(exporter, { maxQueue: data.maxQueueSpans, batchSize: EXPORT_SPANS, flushMs: data.flushMs, sample: d.sample, onDrop: (spans) => onDrop(d.name, spans), encode }) };
  });
  const processors = named.map((n) => n.processor);
  // Span limits: a backstop under Keel's own cuts of caller-supplied strings (bounds.ts).
  const ids = new PresetIds();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': data.serviceName }), spanProcessors: processors, spanLimits: SPAN_LIMITS, idGenerator: ids });
  const tracer = provider.getTracer('keel');
  return {
    record(rec) {
      try {
        recordSpans(tracer, rec, ids);
      } catch {
        onDrop('record', spansOf([rec]));
      }
    },
    audit(records) {
      try {
        recordAuditSpans(tracer, records);
      } catch {
        onDrop('record', records.length);
      }
    },
    probes(records) {
      try {
        recordProbeSpans(tracer, records);
      } catch {
        onDrop('record', records.length);
      }
    },
    flush: () => provider.forceFlush(),
    held: () => Math.max(0, ...processors.map((p) => p.held)),
    async shutdown(o) {
      if (o === undefined) {
        await provider.shutdown();
        return 0;
      }
      // Destinations side by side, one deadline: a slow APM does not eat the collector's time.
      const lost = await Promise.all(
        named.map(async ({ name, processor }) => {
          const failedBefore = processor.failed;
          if (o.skip.includes(name) || !(await within(processor.shutdown(), o.timeoutMs))) return processor.abandon();
          return processor.failed - failedBefore;
        }),
      );
      return lost.reduce((a, b) => a + b, 0);
    },
  };
}
