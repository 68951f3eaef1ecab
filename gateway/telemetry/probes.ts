import { ROOT_CONTEXT, SpanKind, SpanStatusCode, type Meter, type Tracer } from '@opentelemetry/api';
import type { ProbeRecord } from '../probes/types.js';

/** The span name store/probe-ddl.ts selects: probes have a table of their own, never llm_requests rows. */
export const PROBE_SPAN = 'keel.probe';

/** Probe durations: a one-token answer in tens of ms to a timeout in seconds. */
const DUR = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24];

/**
 * One active health check as a root span (it belongs to no caller's trace). INTERNAL, and
 * without keel.request_id, so neither llm_requests (SERVER spans) nor llm_attempts (CLIENT
 * spans of a request) nor the SLI rollups built on them ever count it.
 */
export function recordProbeSpans(tracer: Tracer, records: readonly ProbeRecord[]): void {
  for (const r of records) {
    const span = tracer.startSpan(
      PROBE_SPAN,
      {
        kind: SpanKind.INTERNAL,
        startTime: r.startedAtMs,
        attributes: {
          'keel.probe': true,
          'keel.probe.method': r.method,
          'keel.probe.outcome': r.outcome,
          'keel.provider': r.provider,
          'gen_ai.provider.name': r.providerName,
          'gen_ai.request.model': r.model,
          'server.address': r.address,
          'server.port': r.port,
          ...(r.errorClass === undefined ? {} : { 'keel.error.class': r.errorClass, 'error.type': r.errorCode ?? '_OTHER' }),
        },
      },
      ROOT_CONTEXT,
    );
    if (r.outcome !== 'ok') span.setStatus({ code: SpanStatusCode.ERROR, message: r.errorCode });
    span.end(r.startedAtMs + r.durationMs);
  }
}

export interface ProbeMetrics {
  record(r: ProbeRecord): void;
}

/** keel.probe.results{provider,model,outcome} and keel.probe.duration: apart from the request metrics, so no request dashboard counts a probe. */
export function createProbeMetrics(meter: Meter): ProbeMetrics {
  const results = meter.createCounter('keel.probe.results', { description: 'Active health checks by provider, model and outcome (ok, failed, inconclusive)' });
  const duration = meter.createHistogram('keel.probe.duration', { unit: 's', description: 'Active health check duration', advice: { explicitBucketBoundaries: DUR } });
  return {
    record(r) {
      const attrs = { provider: r.provider, model: r.model, outcome: r.outcome };
      results.add(1, attrs);
      duration.record(r.durationMs / 1000, attrs);
    },
  };
}
