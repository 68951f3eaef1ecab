import type { Span, TracesRequest } from '../otlp/types.js';
import { attributeMap, hexId, nanosDiff, nanosToDateTime64 } from './values.js';

/** The exporter's text for each enum value (standards.md §2.2, since #34799). */
export const KINDS = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
export const STATUS = ['Unset', 'Ok', 'Error'];

export type TraceRow = Record<string, unknown>;

export interface MappedTraces {
  rows: TraceRow[];
  rejected: number;
  reason: string;
}

export function validId(hex: string, length: number): boolean {
  return hex.length === length && /^[0-9a-f]+$/.test(hex) && !/^0+$/.test(hex);
}

function spanRow(span: Span, service: string, resource: Record<string, string>, scope: { name?: string; version?: string }): TraceRow {
  return {
    Timestamp: nanosToDateTime64(span.startTimeUnixNano),
    TraceId: hexId(span.traceId),
    SpanId: hexId(span.spanId),
    ParentSpanId: hexId(span.parentSpanId),
    TraceState: span.traceState ?? '',
    SpanName: span.name ?? '',
    SpanKind: KINDS[span.kind ?? 0] ?? 'Unspecified',
    ServiceName: service,
    ResourceAttributes: resource,
    ScopeName: scope.name ?? '',
    ScopeVersion: scope.version ?? '',
    SpanAttributes: attributeMap(span.attributes),
    Duration: nanosDiff(span.endTimeUnixNano, span.startTimeUnixNano),
    StatusCode: STATUS[span.status?.code ?? 0] ?? 'Unset',
    StatusMessage: span.status?.message ?? '',
    'Events.Timestamp': (span.events ?? []).map((e) => nanosToDateTime64(e.timeUnixNano)),
    'Events.Name': (span.events ?? []).map((e) => e.name ?? ''),
    'Events.Attributes': (span.events ?? []).map((e) => attributeMap(e.attributes)),
    'Links.TraceId': (span.links ?? []).map((l) => hexId(l.traceId)),
    'Links.SpanId': (span.links ?? []).map((l) => hexId(l.spanId)),
    'Links.TraceState': (span.links ?? []).map((l) => l.traceState ?? ''),
    'Links.Attributes': (span.links ?? []).map((l) => attributeMap(l.attributes)),
  };
}

/**
 * An export request → `otel_traces` rows. Spans without a valid trace or span id
 * cannot be stored meaningfully and are rejected (reported as partialSuccess).
 */
export function traceRows(req: TracesRequest): MappedTraces {
  const rows: TraceRow[] = [];
  let rejected = 0;
  for (const rs of req.resourceSpans ?? []) {
    const resource = attributeMap(rs.resource?.attributes);
    const service = resource['service.name'] ?? '';
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        if (!validId(hexId(span.traceId), 32) || !validId(hexId(span.spanId), 16)) {
          rejected++;
          continue;
        }
        rows.push(spanRow(span, service, resource, ss.scope ?? {}));
      }
    }
  }
  return { rows, rejected, reason: rejected > 0 ? `${rejected} span(s) without a valid trace or span id` : '' };
}
