import type { IncomingMessage, ServerResponse } from 'node:http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { TelemetryConfig } from '../../config/telemetry-schema.js';
import type { CompletedRequest, RequestObserver } from '../pipeline/record.js';
import { spanDestinations } from './destinations.js';
import { createMetrics, type BreakerView } from './metrics.js';
import { observeEventLoop } from './runtime.js';
import { SpanThread } from './span-thread.js';

/**
 * Gateway telemetry (DESIGN.md §4): every finished request becomes a SERVER span with
 * a CLIENT span per attempt, plus GenAI and keel_* metrics. Spans always go to Keel's
 * collector unsampled (SLOs need every request) and to any configured APM with its own
 * sampling; they are built and exported on a low-priority span thread. Metrics are on
 * /metrics and go to the collector. Nothing here can block or fail a request: bounded
 * queues, drops counted.
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

function metricReaders(cfg: TelemetryConfig, o: TelemetryOptions, prometheus: PrometheusExporter): MetricReader[] {
  const readers: MetricReader[] = [prometheus];
  const interval = o.metricExportMs ?? 10_000;
  if (cfg.enabled && o.collectorUrl !== undefined) {
    readers.push(new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${o.collectorUrl}/v1/metrics`, timeoutMillis: o.exportTimeoutMs }),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, o.exportTimeoutMs ?? interval),
      }));
  }
  return readers;
}

export function createTelemetry(cfg: TelemetryConfig, o: TelemetryOptions): Telemetry {
  const env = o.env ?? process.env;
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': cfg.service_name }), readers: metricReaders(cfg, o, prometheus) });
  const metrics = createMetrics(meterProvider.getMeter('keel'), o.breakers);
  const stopLoopDelay = observeEventLoop(meterProvider.getMeter('keel'));
  const destinations = spanDestinations(cfg, o.collectorUrl, env);
  // With no destination no thread is started: a span would be built only to be thrown away.
  const spans =
    destinations.length === 0
      ? undefined
      : new SpanThread(
          { serviceName: cfg.service_name, destinations, maxQueueSpans: cfg.max_queue_spans, flushMs: o.spanFlushMs ?? 500, exportTimeoutMs: o.exportTimeoutMs },
          env,
          (destination, n) => metrics.dropped(destination, n),
        );
  const record = (rec: CompletedRequest) => {
    try {
      metrics.record(rec);
    } catch {
      metrics.dropped('metrics', 1);
    }
    spans?.record(rec);
  };
  return {
    // Records arrive as the pipeline ends, before the reply is written; metrics are
    // recorded on the next turn of the loop, so telemetry never sits between a caller and its reply.
    observer: (rec: CompletedRequest) => void setImmediate(record, rec),
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    async flush() {
      await spans?.flush();
      await meterProvider.forceFlush();
    },
    async shutdown() {
      stopLoopDelay();
      await spans?.shutdown();
      await meterProvider.shutdown();
    },
  };
}
