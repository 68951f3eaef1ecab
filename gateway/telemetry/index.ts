import type { IncomingMessage, ServerResponse } from 'node:http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { TelemetryConfig } from '../../config/telemetry-schema.js';
import type { CompletedRequest, RequestObserver } from '../pipeline/record.js';
import { observeEventLoop } from './runtime.js';
import { createMetrics, type BreakerView } from './metrics.js';
import { QueueingSpanProcessor } from './processor.js';
import { recordSpans } from './spans.js';

/**
 * Gateway telemetry (DESIGN.md §4): every finished request becomes a SERVER span with
 * a CLIENT span per attempt, plus GenAI and keel_* metrics. Spans always go to Keel's
 * collector unsampled (SLOs need every request) and to any configured APM with its own
 * sampling; metrics are on /metrics and go to the collector. Nothing here can block
 * or fail a request: bounded queues, drops counted.
 */
export interface Telemetry {
  observer: RequestObserver;
  /** Serves the Prometheus text format (GET /metrics). */
  metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Keel's collector base URL; absent: no export (metrics still on /metrics). */
  collectorUrl: string | undefined;
  breakers: () => BreakerView[];
  metricExportMs?: number;
  spanFlushMs?: number;
  /** Per export attempt, including the exporter's own retries (OTLP default 10 s). */
  exportTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

function destinations(cfg: TelemetryConfig, o: TelemetryOptions): { name: string; exporter: OTLPTraceExporter; sample: number }[] {
  const out: { name: string; exporter: OTLPTraceExporter; sample: number }[] = [];
  if (cfg.enabled && o.collectorUrl !== undefined) out.push({ name: 'collector', exporter: new OTLPTraceExporter({ url: `${o.collectorUrl}/v1/traces`, timeoutMillis: o.exportTimeoutMs }), sample: 1 });
  cfg.export.forEach((e, i) => {
    out.push({ name: `export[${i}]`, exporter: new OTLPTraceExporter({ url: `${e.endpoint.replace(/\/+$/, '')}/v1/traces`, headers: e.headers, timeoutMillis: o.exportTimeoutMs }), sample: e.sample });
  });
  // The standard variables name one more destination; the exporter reads endpoint and headers itself.
  const env = o.env ?? process.env;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) out.push({ name: 'env', exporter: new OTLPTraceExporter(), sample: 1 });
  return out;
}

export function createTelemetry(cfg: TelemetryConfig, o: TelemetryOptions): Telemetry {
  const resource = resourceFromAttributes({ 'service.name': cfg.service_name });
  let onDrop: (destination: string, n: number) => void = () => undefined;
  const processors: SpanProcessor[] = destinations(cfg, o).map(
    (d) => new QueueingSpanProcessor(d.exporter, { maxQueue: cfg.max_queue_spans, batchSize: 512, flushMs: o.spanFlushMs ?? 500, sample: d.sample, onDrop: (n) => onDrop(d.name, n) }),
  );
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: processors });
  const tracer = tracerProvider.getTracer('keel');
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: MetricReader[] = [prometheus];
  const interval = o.metricExportMs ?? 10_000;
  if (cfg.enabled && o.collectorUrl !== undefined) {
    readers.push(new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${o.collectorUrl}/v1/metrics`, timeoutMillis: o.exportTimeoutMs }),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, o.exportTimeoutMs ?? interval),
      }));
  }
  const meterProvider = new MeterProvider({ resource, readers });
  const metrics = createMetrics(meterProvider.getMeter('keel'), o.breakers);
  const stopLoopDelay = observeEventLoop(meterProvider.getMeter('keel'));
  onDrop = (destination, n) => metrics.dropped(destination, n);
  const record = (rec: CompletedRequest) => {
    try {
      // With no destination a span would be built only to be thrown away.
      if (processors.length > 0) recordSpans(tracer, rec);
      metrics.record(rec);
    } catch {
      metrics.dropped('record', 1);
    }
  };
  return {
    // Records arrive as the pipeline ends, before the reply is written; spans and metrics are
    // built on the next turn of the loop, so telemetry never sits between a caller and its reply.
    observer: (rec: CompletedRequest) => void setImmediate(record, rec),
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
    },
    async shutdown() {
      stopLoopDelay();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
