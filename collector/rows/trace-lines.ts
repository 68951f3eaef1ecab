import type { EncodedBody } from '../../store/index.js';
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
 * A group's rows as one insert body. A Buffer row is a line already in its table's format with
 * its '\n' (the protobuf path writes otel_traces lines as bytes straight off the wire, see
 * line-writer.ts), copied as it is; a string row a line without it; objects (OTLP/JSON, metrics,
 * spool files of earlier versions) are encoded here.
 */
export function encodeRows(table: string, rows: readonly Row[]): EncodedBody {
  const trace = table === 'otel_traces';
  const parts: Buffer[] = [];
  let text: string[] = [];
  const flushText = () => {
    if (text.length > 0) parts.push(Buffer.from(`${text.join('\n')}\n`));
    text = [];
  };
  for (const r of rows) {
    if (Buffer.isBuffer(r)) {
      flushText();
      parts.push(r);
    } else text.push(typeof r === 'string' ? r : trace ? traceLine(r) : JSON.stringify(r));
  }
  flushText();
  const body = parts.length === 1 && parts[0] !== undefined ? parts[0] : Buffer.concat(parts);
  return trace ? { format: 'JSONCompactEachRow', columns: TRACE_COLUMNS, body, rows: rows.length } : { format: 'JSONEachRow', body, rows: rows.length };
}
