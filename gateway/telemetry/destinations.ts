import type { TelemetryConfig } from '../../config/telemetry-schema.js';

/** Where spans go, as plain data (it crosses to the span thread). */
export interface SpanDestination {
  name: string;
  /** OTLP/HTTP traces URL; absent: the exporter reads the standard OTEL_EXPORTER_OTLP_* variables. */
  url?: string;
  headers?: Record<string, string>;
  sample: number;
}

/** What every export to Keel's collector carries: its token, when one is set (required beyond loopback). */
export function collectorHeaders(cfg: TelemetryConfig): Record<string, string> | undefined {
  return cfg.collector.token === undefined ? undefined : { authorization: `Bearer ${cfg.collector.token}` };
}

/**
 * Keel's collector unsampled (SLOs need every request), each configured APM with its own
 * sampling, and one more when the standard OTLP variables name an endpoint.
 */
export function spanDestinations(cfg: TelemetryConfig, collectorUrl: string | undefined, env: NodeJS.ProcessEnv): SpanDestination[] {
  const out: SpanDestination[] = [];
  if (cfg.enabled && collectorUrl !== undefined) out.push({ name: 'collector', url: `${collectorUrl}/v1/traces`, headers: collectorHeaders(cfg), sample: 1 });
  cfg.export.forEach((e, i) => {
    out.push({ name: `export[${i}]`, url: `${e.endpoint.replace(/\/+$/, '')}/v1/traces`, headers: e.headers, sample: e.sample });
  });
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) out.push({ name: 'env', sample: 1 });
  return out;
}
