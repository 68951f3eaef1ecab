import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/** Cost & usage by key, team, customer, route and model (sli_1m keeps every one of them). */
const scope = `${byVar('team', 'team')} AND ${byVar('customer', 'customer')} AND ${byVar('route', 'route')}`;

/**
 * Each budget scope as its own row: a request counts towards its key, its team and its customer
 * alike, as budgets do (auth.keys[].budgets, auth.teams, auth.customers).
 */
const BY_SCOPE = "ARRAY JOIN [('key', key_id), ('team', team), ('customer', customer)] AS s";
const DAY = "toStartOfDay(now(), 'UTC')";
const MONTH = "toDateTime(toStartOfMonth(now(), 'UTC'), 'UTC')";

export const costDashboard: Dashboard = dashboard({
  uid: 'keel-cost',
  title: 'Keel — Cost & usage',
  tags: ['keel', 'cost'],
  from: 'now-7d',
  refresh: '5m',
  variables: [variable('route', 'Route', 'sli_1m', 'route'), variable('team', 'Team', 'sli_1m', 'team'), variable('customer', 'Customer', 'sli_1m', 'customer')],
  panels: [
    {
      title: 'Cost by route (USD per interval)',
      unit: 'currencyUSD',
      sql: `SELECT $__timeInterval(minute) AS time, route, sum(cost_usd) AS usd FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY time, route ORDER BY time`,
    },
    {
      title: 'Tokens by model (input and output)',
      unit: 'short',
      sql: `SELECT $__timeInterval(minute) AS time, model, sum(input_tokens) AS input, sum(output_tokens) AS output FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY time, model ORDER BY time`,
    },
    {
      // A hit's span carries what its answer cost when it was bought (keel.cache.saved_usd).
      title: 'Cost saved by the cache (USD per interval)',
      unit: 'currencyUSD',
      sql: `SELECT $__timeInterval(Timestamp) AS time, SpanAttributes['keel.route'] AS route, sum(toFloat64OrZero(SpanAttributes['keel.cache.saved_usd'])) AS saved_usd
            FROM otel_traces WHERE $__timeFilter(Timestamp) AND SpanKind = 'Server' AND SpanAttributes['keel.cache.saved_usd'] != '' AND ${byVar("SpanAttributes['keel.route']", 'route')}
            AND ${byVar("SpanAttributes['keel.team']", 'team')} AND ${byVar("SpanAttributes['keel.customer']", 'customer')} GROUP BY time, route ORDER BY time`,
    },
    {
      title: 'Top spenders (key, team)',
      type: 'table',
      sql: `SELECT if(key_id = '', '(open gateway)', key_id) AS key, team, round(sum(cost_usd), 4) AS usd, sum(input_tokens) AS tokens_in, sum(output_tokens) AS tokens_out, sum(requests) AS n
            FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY key, team ORDER BY usd DESC LIMIT 20`,
    },
    {
      title: 'Spend by key / team / customer',
      type: 'table',
      description: 'USD of answered requests in the dashboard range, per key id (never the key), team and customer.',
      sql: `SELECT if(key_id = '', '(open gateway)', key_id) AS key, team, customer, round(sum(cost_usd), 4) AS usd, count() AS requests
            FROM llm_requests WHERE $__timeFilter(Timestamp) AND ${scope} GROUP BY key, team, customer ORDER BY usd DESC LIMIT 50`,
    },
    {
      title: 'Budget use: spend per budget period (UTC day and month, last 24 h and 30 d)',
      type: 'table',
      description:
        'What each key, team and customer spent in the periods budgets count: the calendar UTC day and month, and the rolling 24 h and 30 d. ' +
        'The budgets themselves are in config (auth), not in ClickHouse: compare against them, or read keel_budget_remaining_usd on the gateways. Ignores the dashboard range.',
      w: 24,
      sql: `SELECT s.1 AS scope, s.2 AS name,
              round(sumIf(cost_usd, minute >= ${DAY}), 4) AS today_usd, round(sumIf(cost_usd, minute >= ${MONTH}), 4) AS this_month_usd,
              round(sumIf(cost_usd, minute >= now() - INTERVAL 1 DAY), 4) AS last_24h_usd, round(sumIf(cost_usd, minute >= now() - INTERVAL 30 DAY), 4) AS last_30d_usd
            FROM sli_1m ${BY_SCOPE}
            WHERE minute >= least(${MONTH}, now() - INTERVAL 30 DAY) AND s.2 != '' AND ${scope}
            GROUP BY scope, name ORDER BY this_month_usd DESC, scope, name LIMIT 100`,
    },
    {
      title: 'Cost by model',
      type: 'table',
      sql: `SELECT model, round(sum(cost_usd), 4) AS usd, sum(output_tokens) AS tokens_out FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY model ORDER BY usd DESC`,
    },
  ],
});
