import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/**
 * Gateway overview: traffic, success, latency, tokens, cost, cache, fallbacks by route.
 * Rates and percentiles read the sli_1m rollup (fast over 30 days); what it does not keep
 * (retries, cache status) reads llm_requests.
 */
const route = byVar('route', 'route');

export const gatewayOverview: Dashboard = dashboard({
  uid: 'keel-gateway-overview',
  title: 'Keel — Gateway overview',
  tags: ['keel'],
  from: 'now-6h',
  refresh: '30s',
  variables: [variable('route', 'Route', 'sli_1m', 'route')],
  panels: [
    {
      title: 'Requests per second by route',
      unit: 'reqps',
      sql: `SELECT $__timeInterval(minute) AS time, route, sum(requests) / $__interval_s AS rps
            FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time, route ORDER BY time`,
    },
    {
      title: 'Success ratio (caller faults excluded)',
      unit: 'percentunit',
      sql: `SELECT $__timeInterval(minute) AS time, 1 - sum(bad) / greatest(sum(requests), 1) AS success
            FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time ORDER BY time`,
    },
    {
      title: 'Time to first token p50 / p95 / p99',
      unit: 'ms',
      sql: `SELECT time, q[1] AS p50, q[3] AS p95, q[4] AS p99
            FROM (SELECT $__timeInterval(minute) AS time, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms) AS q
                  FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time) ORDER BY time`,
    },
    {
      title: 'Inter-token latency (mean per request) p50 / p95',
      unit: 'ms',
      sql: `SELECT time, q[1] AS p50, q[3] AS p95
            FROM (SELECT $__timeInterval(minute) AS time, quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(itl_ms) AS q
                  FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time) ORDER BY time`,
    },
    {
      title: 'Output tokens per second',
      unit: 'short',
      sql: `SELECT $__timeInterval(minute) AS time, route, sum(output_tokens) / $__interval_s AS tokens_per_s
            FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time, route ORDER BY time`,
    },
    {
      title: 'Cost per hour (USD)',
      unit: 'currencyUSD',
      sql: `SELECT $__timeInterval(minute) AS time, route, sum(cost_usd) * 3600 / $__interval_s AS usd_per_hour
            FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY time, route ORDER BY time`,
    },
    {
      title: 'Fallback activations and retries',
      unit: 'short',
      sql: `SELECT $__timeInterval(Timestamp) AS time, sum(fallbacks) AS fallbacks, sum(retries) AS retries, countIf(hedged) AS hedges
            FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${route} GROUP BY time ORDER BY time`,
    },
    {
      // Over the requests of routes with a cache (the others record none); stale rescues count as hits.
      title: 'Cache hit ratio',
      unit: 'percentunit',
      sql: `SELECT $__timeInterval(Timestamp) AS time, countIf(cache_status IN ('exact', 'semantic', 'stale')) / greatest(countIf(cache_status NOT IN ('', 'none')), 1) AS hit_ratio
            FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${route} GROUP BY time ORDER BY time`,
    },
    {
      title: 'Routes in the selected range',
      type: 'table',
      w: 24,
      // Aliases differ from the columns: ClickHouse resolves a reused name to the alias.
      sql: `SELECT route, sum(requests) AS total_requests, round(1 - sum(bad) / greatest(sum(requests), 1), 5) AS success,
                   round(quantilesTDigestMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms)[3]) AS ttft_p95_ms, sum(output_tokens) AS total_output_tokens, round(sum(cost_usd), 4) AS total_cost_usd
            FROM sli_1m WHERE $__timeFilter(minute) AND ${route} GROUP BY route ORDER BY total_requests DESC`,
    },
  ],
});
