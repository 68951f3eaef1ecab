import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/** Cost & usage by key, team, route and model (sli_1m keeps all four dimensions). */
const scope = `${byVar('team', 'team')} AND ${byVar('route', 'route')}`;

export const costDashboard: Dashboard = dashboard({
  uid: 'keel-cost',
  title: 'Keel — Cost & usage',
  tags: ['keel', 'cost'],
  from: 'now-7d',
  refresh: '5m',
  variables: [variable('route', 'Route', 'sli_1m', 'route'), variable('team', 'Team', 'sli_1m', 'team')],
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
      title: 'Top spenders (key, team)',
      type: 'table',
      sql: `SELECT if(key_id = '', '(open gateway)', key_id) AS key, team, round(sum(cost_usd), 4) AS usd, sum(input_tokens) AS tokens_in, sum(output_tokens) AS tokens_out, sum(requests) AS n
            FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY key, team ORDER BY usd DESC LIMIT 20`,
    },
    {
      title: 'Cost by model',
      type: 'table',
      sql: `SELECT model, round(sum(cost_usd), 4) AS usd, sum(output_tokens) AS tokens_out FROM sli_1m WHERE $__timeFilter(minute) AND ${scope} GROUP BY model ORDER BY usd DESC`,
    },
  ],
});
