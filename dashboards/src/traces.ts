import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/** Traces: the slowest and failed requests, each linking into Grafana's trace view (otel_traces). */
export const tracesDashboard: Dashboard = dashboard({
  uid: 'keel-traces',
  title: 'Keel — Traces',
  tags: ['keel', 'traces'],
  from: 'now-1h',
  refresh: '30s',
  variables: [variable('route', 'Route', 'llm_requests', 'route')],
  panels: [
    {
      title: 'Requests (newest first) — open a trace',
      type: 'table',
      w: 24,
      h: 12,
      description: 'TraceId links to the trace view of the Keel ClickHouse datasource.',
      links: {
        TraceId: {
          title: 'Open trace',
          // Explore with the plugin's trace-ID mode on this trace (standards.md §2.7).
          url: '/explore?schemaVersion=1&panes={"trace":{"datasource":"keel-clickhouse","queries":[{"refId":"A","datasource":{"type":"grafana-clickhouse-datasource","uid":"keel-clickhouse"},"editorType":"builder","format":3,"builderOptions":{"database":"default","table":"otel_traces","queryType":"traces","mode":"list","meta":{"isTraceIdMode":true,"traceId":"${__value.raw}"}}}],"range":{"from":"now-1h","to":"now"}}}',
        },
      },
      sql: `SELECT Timestamp, TraceId, route, response_model, round(duration_ms) AS duration_ms, round(ttft_ms) AS ttft_ms, attempts, ok, error_class
            FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${byVar('route', 'route')} ORDER BY Timestamp DESC LIMIT 100`,
    },
    {
      title: 'Spans of the slowest request in range',
      type: 'traces',
      format: 3,
      w: 24,
      h: 12,
      sql: `SELECT TraceId AS traceID, SpanId AS spanID, ParentSpanId AS parentSpanID, ServiceName AS serviceName, SpanName AS operationName,
                   toUnixTimestamp64Milli(Timestamp) AS startTime, Duration / 1000000 AS duration, SpanAttributes AS tags, StatusCode AS statusCode
            FROM otel_traces
            WHERE TraceId = (SELECT argMax(TraceId, duration_ms) FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${byVar('route', 'route')})
              AND $__timeFilter(Timestamp)
            ORDER BY startTime`,
    },
  ],
});
