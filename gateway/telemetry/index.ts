import type { IncomingMessage, ServerResponse } from 'node:http';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import type { AuditRecord } from '../../config/audit.js';
import type { TelemetryConfig } from '../../config/telemetry-schema.js';
import type { CompletedRequest, RequestObserver } from '../pipeline/record.js';
import type { ProbeObserver, ProbeRecord } from '../probes/types.js';
import type { StateHealth } from '../state/types.js';
import { collectorHeaders, spanDestinations, type SpanDestination } from './destinations.js';
import { PROBE_MS, reachable, within, type FlushReport } from './flush.js';
import { createMetrics, type BreakerView } from './metrics.js';
import { createProbeMetrics } from './probes.js';
import { observeEventLoop } from './runtime.js';
import type { SpanThreadData } from './span-messages.js';
import { LocalMetrics } from './local-metrics.js';
import { createSpanPipeline, type SpanSink } from './span-pipeline.js';
import { SpanThread } from './span-thread.js';

/**
 * Gateway telemetry (DESIGN.md §4): every finished request becomes a SERVER span with
 * a CLIENT span per attempt, plus GenAI and keel_* metrics. Spans always go to Keel's
 * collector unsampled (SLOs need every request) and to any configured APM with its own
 * sampling; they are built and exported on a span thread when a core is free for it.
 * Metrics are on /metrics and go to the collector. Nothing here can block or fail a
 * request: bounded queues, drops counted.
 */
export interface Telemetry {
  observer: RequestObserver;
  /** Serves the Prometheus text format (GET /metrics). */
  metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Audit events as `keel.audit` spans (gateway/telemetry/audit-spans.ts); without a span destination they go nowhere. */
  audit(records: AuditRecord[]): void;
  /** Active health checks (gateway/probes): `keel.probe` spans and keel.probe.* metrics, never request telemetry. */
  probe: ProbeObserver;
  flush(): Promise<void>;
  /** The last export, bounded by telemetry.flush_timeout_ms (or `timeoutMs`); says what it dropped. */
  shutdown(timeoutMs?: number): Promise<FlushReport>;
}

export interface TelemetryOptions {
  /** Keel's collector base URL; absent: no export (metrics still on /metrics). */
  collectorUrl: string | undefined;
  breakers: () => BreakerView[];
  /** Shared state's health, for the keel_state_degraded gauge. */
  state?: () => StateHealth;
  metricExportMs?: number;
  spanFlushMs?: number;
  /** Per export attempt, including the exporter's own retries (OTLP default 10 s). */
  exportTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Spans on a thread of their own; default: when the process may use more than one core. */
  spanThread?: boolean;
}

function metricReaders(cfg: TelemetryConfig, o: TelemetryOptions, prometheus: PrometheusExporter, local: LocalMetrics): MetricReader[] {
  const readers: MetricReader[] = [prometheus];
  const interval = o.metricExportMs ?? 10_000;
  if (cfg.enabled && o.collectorUrl !== undefined) {
    readers.push(new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${o.collectorUrl}/v1/metrics`, headers: collectorHeaders(cfg), timeoutMillis: o.exportTimeoutMs }),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, o.exportTimeoutMs ?? interval),
        metricProducers: [local],
      }));
  }
  return readers;
}

/**
 * With a core to spare, spans are built and encoded on a span thread, in parallel with the
 * gateway's event loop. Confined to one core
 * (taskset, a 1-CPU container), a thread cannot run in parallel and only adds the hand-over
 * (a structured clone per batch) and context switches: on one pinned core at concurrency 64,
 * full telemetry cost 0.212 ms CPU per request with the thread and 0.197 ms inline (bench
 * upstream, spans to a discarding OTLP sink, same run).
 * With no destination there is no pipeline at all: a span would be built only to be thrown away.
 */
function spanSink(cfg: TelemetryConfig, o: TelemetryOptions, destinations: SpanDestination[], env: NodeJS.ProcessEnv, onDrop: (destination: string, spans: number) => void): SpanSink | undefined {
  if (destinations.length === 0) return undefined;
  const thread = o.spanThread ?? availableParallelism() > 1;
  const data: SpanThreadData = { serviceName: cfg.service_name, destinations, maxQueueSpans: cfg.max_queue_spans, flushMs: o.spanFlushMs ?? 500, exportTimeoutMs: o.exportTimeoutMs };
  return thread ? new SpanThread(data, env, onDrop) : createSpanPipeline(data, onDrop);
}

export function createTelemetry(cfg: TelemetryConfig, o: TelemetryOptions): Telemetry {
  const env = o.env ?? process.env;
  const resource = resourceFromAttributes({ 'service.name': cfg.service_name });
  const local = new LocalMetrics(resource);
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [local] });
  const meterProvider = new MeterProvider({ resource, readers: metricReaders(cfg, o, prometheus, local) });
  const metrics = createMetrics(meterProvider.getMeter('keel'), local, o.breakers, o.state);
  const stopLoopDelay = observeEventLoop(meterProvider.getMeter('keel'));
  const destinations = spanDestinations(cfg, o.collectorUrl, env);
  const spans = spanSink(cfg, o, destinations, env, (destination, n) => metrics.dropped(destination, n));
  const probeMetrics = createProbeMetrics(meterProvider.getMeter('keel'));
  const probe = (r: ProbeRecord) => {
    try {
      probeMetrics.record(r);
    } catch {
      metrics.dropped('metrics', 1);
    }
    spans?.probes([r]);
  };
  const metricsToCollector = cfg.enabled && o.collectorUrl !== undefined;
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
    audit: (records) => spans?.audit(records),
    probe: (r) => void setImmediate(probe, r),
    async flush() {
      await spans?.flush();
      await meterProvider.forceFlush();
    },
    async shutdown(timeoutMs = cfg.flush_timeout_ms) {
      stopLoopDelay();
      const started = performance.now();
      const unreachable = await unreachableOf(destinations, Math.min(PROBE_MS, timeoutMs));
      const left = () => timeoutMs - (performance.now() - started);
      // Spans and metrics side by side under one deadline; the metrics' last export goes only where it can land.
      const metricsSkipped = metricsToCollector && unreachable.includes('collector');
      const [spansDropped, metricsDone] = await Promise.all([
        spans?.shutdown({ timeoutMs: left(), skip: unreachable }) ?? Promise.resolve(0),
        metricsSkipped ? Promise.resolve(false) : within(meterProvider.shutdown(), left()),
      ]);
      return { ms: Math.round(performance.now() - started), spansDropped, metricsDropped: metricsToCollector && !metricsDone, unreachable };
    },
  };
}

/** Destinations (with a URL) that do not accept a TCP connection within `ms`, checked side by side. */
async function unreachableOf(destinations: SpanDestination[], ms: number): Promise<string[]> {
  const checked = await Promise.all(destinations.map(async (d) => ({ name: d.name, ok: d.url === undefined || (await reachable(d.url, ms)) })));
  return checked.filter((c) => !c.ok).map((c) => c.name);
}
