import { ROOT_CONTEXT, SpanKind, type Tracer } from '@opentelemetry/api';
import { AUDIT_ATTR, AUDIT_SPAN, type AuditRecord } from '../../config/audit.js';

/**
 * A gateway's audit event as a span of a fixed shape: name `keel.audit`, kind INTERNAL, zero
 * length at the event's time, one attribute per audit_log column (store/audit-ddl.ts reads them
 * back). A span rather than an OTLP log record because spans are the one signal the gateway
 * already sends to the collector unsampled, with bounded queues, retries and counted drops, and
 * the collector's exactly-once path (spool, dedup token, views) already covers otel_traces.
 * Each event is its own root span: it belongs to no request's trace.
 */
export function recordAuditSpans(tracer: Tracer, records: readonly AuditRecord[]): void {
  for (const r of records) {
    const span = tracer.startSpan(
      AUDIT_SPAN,
      {
        kind: SpanKind.INTERNAL,
        startTime: r.ts,
        attributes: {
          [AUDIT_ATTR.event]: r.event,
          [AUDIT_ATTR.subject]: r.subject,
          [AUDIT_ATTR.detail]: r.detail,
          [AUDIT_ATTR.instance]: r.instance,
          [AUDIT_ATTR.actor]: r.actor,
          [AUDIT_ATTR.configVersion]: r.config_version,
          [AUDIT_ATTR.configHash]: r.config_hash,
        },
      },
      ROOT_CONTEXT,
    );
    span.end(r.ts);
  }
}
