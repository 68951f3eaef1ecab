import type { EncodedRows } from '../../store/index.js';
import type { Row } from '../spool.js';
import type { TraceRow } from './traces.js';

/**
 * `otel_traces` columns in the order of a JSONCompactEachRow line. ClickHouse reads
 * these arrays faster than keyed JSONEachRow objects (measured ~30 % less parse
 * time per span), and they cost less to build.
 */
export const TRACE_COLUMNS = [
  'Timestamp', 'TraceId', 'SpanId', 'ParentSpanId', 'TraceState', 'SpanName', 'SpanKind', 'ServiceName', 'ResourceAttributes',
  'ScopeName', 'ScopeVersion', 'SpanAttributes', 'Duration', 'StatusCode', 'StatusMessage',
  'Events.Timestamp', 'Events.Name', 'Events.Attributes', 'Links.TraceId', 'Links.SpanId', 'Links.TraceState', 'Links.Attributes',
] as const;

/** One `otel_traces` row (as traceRows maps it) → its JSONCompactEachRow line. */
export function traceLine(row: TraceRow): string {
  return JSON.stringify(TRACE_COLUMNS.map((c) => row[c]));
}

/**
 * A group's rows as one insert body. A string row is already a line in its table's format
 * (the protobuf path writes otel_traces lines straight off the wire); objects (OTLP/JSON,
 * metrics, spool files of earlier versions) are encoded here.
 */
export function encodeRows(table: string, rows: readonly Row[]): EncodedRows {
  if (table === 'otel_traces') return { format: 'JSONCompactEachRow', columns: TRACE_COLUMNS, lines: rows.map((r) => (typeof r === 'string' ? r : traceLine(r))) };
  return { format: 'JSONEachRow', lines: rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))) };
}
