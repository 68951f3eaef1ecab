import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { AuditRecord } from '../../config/audit.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ProbeRecord } from '../probes/types.js';
import { recordAuditSpans } from './audit-spans.js';
import { recordProbeSpans } from './probes.js';
import { SPAN_LIMITS } from './bounds.js';
import { within, type SpanShutdown } from './flush.js';
import { groupEncoder } from './group-encoder.js';
import { otlpEncodedExporter } from './otlp-encoded.js';
import { assembleGroup, encodeSpanField, groupHeader } from './otlp/index.js';
import { sampledTrace, SpanQueue } from './processor.js';
import { requestSpans, writesDirectly } from './request-spans.js';
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

/** The one tracer (instrumentation scope) of every span Keel writes. */
const TRACER = 'keel';

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
 * Finished requests in, OTLP spans out, one bounded queue per destination, drops counted.
 * A request's spans are written from its record straight to bytes (request-spans.ts); audit
 * events, probes, and records that path leaves to the SDK (odd times or ids) go through the SDK's tracer and Keel's encoder, one span at a time as it ends.
 * Either way each destination queues encoded spans; a group is put together once for every
 * destination that seals it (group-encoder.ts, otlp/group.ts) and sent by the official
 * OTLP/HTTP transport (otlp-encoded.ts). Runs wherever it is created: in the span thread
 * (span-worker.ts) or on the gateway's own thread.
 */
export function createSpanPipeline(data: SpanThreadData, onDrop: (destination: string, spans: number) => void): SpanSink {
  const resource = resourceFromAttributes({ 'service.name': data.serviceName });
  const header = groupHeader(resource, { name: TRACER });
  const encode = groupEncoder<Uint8Array>(data.destinations.length, (spans) => ({ bytes: assembleGroup(header, spans), spans: spans.length }));
  const named = data.destinations.map((d) => {
    const exporter = d.url === undefined ? otlpEncodedExporter() : otlpEncodedExporter({ url: d.url, headers: d.headers, timeoutMillis: data.exportTimeoutMs });
    return { name: d.name, sample: d.sample, queue: new SpanQueue(exporter, { maxQueue: data.maxQueueSpans, batchSize: EXPORT_SPANS, flushMs: data.flushMs, sample: d.sample, onDrop: (spans) => onDrop(d.name, spans) }, encode) };
  });
  const queues = named.map((n) => n.queue);
  // Span by span, destination by destination: the order the SDK's processors were handed them in.
  const add = (span: Uint8Array, traceId: string) => {
    for (const q of queues) q.add(span, traceId);
  };
  const sdkSpans: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => {
      let bytes: Uint8Array;
      try {
        bytes = encodeSpanField(span);
      } catch {
        for (const n of named) if (sampledTrace(span.spanContext().traceId, n.sample)) onDrop(n.name, 1);
        return;
      }
      add(bytes, span.spanContext().traceId);
    },
    forceFlush: async () => void (await Promise.all(queues.map((q) => q.flush()))),
    shutdown: async () => void (await Promise.all(queues.map((q) => q.shutdown()))),
  };
  // Span limits: a backstop under Keel's own cuts of caller-supplied strings (bounds.ts).
  const ids = new PresetIds();
  // Every request is recorded (DESIGN §3: the ClickHouse pipeline is never sampled): a caller's
  // traceparent flagged not sampled must not take its request out of the SLIs, so the sampler is
  // AlwaysOn rather than the SDK's ParentBased default, and OTEL_TRACES_SAMPLER is not read. An
  // APM is sampled by its telemetry.export `sample`, per destination (processor.ts).
  const provider = new BasicTracerProvider({ resource, spanProcessors: [sdkSpans], spanLimits: SPAN_LIMITS, idGenerator: ids, sampler: new AlwaysOnSampler() });
  const tracer = provider.getTracer(TRACER);
  return {
    record(rec) {
      try {
        if (!writesDirectly(rec)) {
          recordSpans(tracer, rec, ids);
          return;
        }
        const written = requestSpans(rec);
        for (const span of written.spans) add(span, written.traceId);
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
    held: () => Math.max(0, ...queues.map((q) => q.held)),
    async shutdown(o) {
      if (o === undefined) {
        await provider.shutdown();
        return 0;
      }
      // Destinations side by side, one deadline: a slow APM does not eat the collector's time.
      const lost = await Promise.all(
        named.map(async ({ name, queue }) => {
          const failedBefore = queue.failed;
          if (o.skip.includes(name) || !(await within(queue.shutdown(), o.timeoutMs))) return queue.abandon();
          return queue.failed - failedBefore;
        }),
      );
      return lost.reduce((a, b) => a + b, 0);
    },
  };
}
