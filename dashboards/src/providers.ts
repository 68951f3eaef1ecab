import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/** Providers & routing: per target health, breakers, attempts, adaptive weights and canaries. */
const scope = `${byVar('route', 'route')} AND ${byVar('provider', 'provider')} AND ${byVar('model', 'model')}`;

export const providersRouting: Dashboard = dashboard({
  uid: 'keel-providers-routing',
  title: 'Keel — Providers & routing',
  tags: ['keel'],
  from: 'now-6h',
  refresh: '30s',
  variables: [variable('route', 'Route', 'llm_attempts', 'route'), variable('provider', 'Provider', 'llm_attempts', 'provider'), variable('model', 'Model', 'llm_attempts', 'model')],
  panels: [
    {
      title: 'Attempt error ratio by failure class',
      unit: 'percentunit',
      sql: `SELECT $__timeInterval(Timestamp) AS time, if(failure_class = '', 'ok', failure_class) AS class, count() / any(total) AS ratio
            FROM llm_attempts
            INNER JOIN (SELECT $__timeInterval(Timestamp) AS t, count() AS total FROM llm_attempts WHERE $__timeFilter(Timestamp) AND ${scope} GROUP BY t) AS totals
              ON $__timeInterval(Timestamp) = totals.t
            WHERE $__timeFilter(Timestamp) AND ${scope} AND NOT ok GROUP BY time, class ORDER BY time`,
    },
    {
      title: 'Time to first token by target, p50 / p95',
      unit: 'ms',
      sql: `SELECT $__timeInterval(Timestamp) AS time, concat(provider, ' ', model) AS target, quantile(0.5)(ttft_ms) AS p50, quantile(0.95)(ttft_ms) AS p95
            FROM llm_attempts WHERE $__timeFilter(Timestamp) AND ${scope} AND ok AND ttft_ms IS NOT NULL GROUP BY time, target ORDER BY time`,
    },
    {
      title: 'Attempt duration by target, p50 / p95',
      unit: 'ms',
      sql: `SELECT $__timeInterval(Timestamp) AS time, concat(provider, ' ', model) AS target, quantile(0.5)(duration_ms) AS p50, quantile(0.95)(duration_ms) AS p95
            FROM llm_attempts WHERE $__timeFilter(Timestamp) AND ${scope} GROUP BY time, target ORDER BY time`,
    },
    {
      title: 'Attempts per request',
      unit: 'short',
      sql: `SELECT $__timeInterval(Timestamp) AS time, avg(attempts) AS mean, max(attempts) AS max
            FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${byVar('route', 'route')} GROUP BY time ORDER BY time`,
    },
    {
      title: 'Attempts by reason',
      type: 'table',
      sql: `SELECT attempt_reason, count() AS attempts, countIf(ok) AS answered FROM llm_attempts
            WHERE $__timeFilter(Timestamp) AND ${scope} GROUP BY attempt_reason ORDER BY attempts DESC`,
    },
    {
      title: 'Circuit breaker state (0 closed, 1 half-open, 2 open)',
      unit: 'short',
      description: 'From the gateway metric keel.breaker.state, exported over OTLP: one breaker per route and target (each route judges a shared target by its own breaker settings).',
      sql: `SELECT $__timeInterval(TimeUnix) AS time, concat(Attributes['keel.route'], ' ', Attributes['keel.provider'], ' ', Attributes['gen_ai.request.model']) AS target, max(Value) AS state
            FROM otel_metrics_gauge WHERE $__timeFilter(TimeUnix) AND MetricName = 'keel.breaker.state' AND ${byVar("Attributes['keel.route']", 'route')} GROUP BY time, target ORDER BY time`,
    },
    {
      title: 'Health check success ratio by target',
      unit: 'percentunit',
      description: 'Active health checks (probes) of idle targets, from probe_results: never counted as requests or in any SLI. Inconclusive probes (a 4xx about the probe itself) are left out.',
      sql: `SELECT $__timeInterval(ts) AS time, concat(provider, ' ', model) AS target, countIf(outcome = 'ok') / count() AS ratio
            FROM probe_results WHERE $__timeFilter(ts) AND outcome != 'inconclusive' AND ${byVar('provider', 'provider')} AND ${byVar('model', 'model')} GROUP BY time, target ORDER BY time`,
    },
    {
      title: 'Last health check per target',
      type: 'table',
      sql: `SELECT provider, model, argMax(outcome, ts) AS last_outcome, argMax(error_class, ts) AS last_error_class, max(ts) AS last_probe,
              round(argMax(duration_ms, ts), 1) AS last_duration_ms, count() AS probes, countIf(outcome = 'ok') AS ok
            FROM probe_results WHERE $__timeFilter(ts) AND ${byVar('provider', 'provider')} AND ${byVar('model', 'model')} GROUP BY provider, model ORDER BY provider, model`,
    },
    {
      title: 'Adaptive weights over time',
      unit: 'short',
      sql: `SELECT $__timeInterval(ts) AS time, concat(route, ' ', provider, ' ', model) AS target, argMax(multiplier, ts) AS multiplier
            FROM routing_weights WHERE $__timeFilter(ts) AND ${byVar('route', 'route')} GROUP BY time, target ORDER BY time`,
    },
    {
      title: 'Weight changes and canary steps, with reasons',
      type: 'table',
      w: 24,
      sql: `SELECT ts, concat(route, ' | ', provider, ' | ', model) AS target, round(multiplier, 3) AS multiplier, reason
            FROM routing_weights WHERE $__timeFilter(ts) AND reason != 'unchanged' AND ${byVar('route', 'route')}
            UNION ALL
            SELECT ts, slo AS target, budget_remaining * 100 AS multiplier, concat(transition, ': ', summary) AS reason
            FROM alert_events WHERE $__timeFilter(ts) AND kind = 'canary'
            ORDER BY ts DESC LIMIT 200`,
    },
  ],
});
