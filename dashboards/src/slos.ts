import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/** SLOs & error budgets, from the SLO engine's evaluations and alert history. */
const slo = byVar('slo', 'slo');

export const sloDashboard: Dashboard = dashboard({
  uid: 'keel-slos',
  title: 'Keel — SLOs & error budgets',
  tags: ['keel', 'slo'],
  from: 'now-7d',
  refresh: '1m',
  variables: [variable('slo', 'SLO', 'slo_evaluations', 'slo')],
  panels: [
    {
      title: 'Error budget remaining',
      type: 'table',
      w: 24,
      sql: `SELECT slo, argMax(objective, ts) AS objective, round(argMax(sli, ts) * 100, 3) AS sli_pct, round(argMax(budget_remaining, ts) * 100, 1) AS budget_left_pct,
                   argMax(events, ts) AS events, arrayStringConcat(argMax(firing, ts), ', ') AS firing
            FROM slo_evaluations WHERE $__timeFilter(ts) AND ${slo} GROUP BY slo ORDER BY budget_left_pct`,
    },
    {
      title: 'Budget burn-down over the period',
      unit: 'percentunit',
      sql: `SELECT $__timeInterval(ts) AS time, slo, argMax(budget_remaining, ts) AS budget_remaining
            FROM slo_evaluations WHERE $__timeFilter(ts) AND ${slo} GROUP BY time, slo ORDER BY time`,
    },
    {
      title: 'Burn rate per window (long)',
      unit: 'short',
      sql: `SELECT time, concat(slo, ' ', replaceOne(k, ':long', '')) AS series, v AS burn
            FROM (SELECT $__timeInterval(ts) AS time, slo, argMax(burn_rates, ts) AS b FROM slo_evaluations WHERE $__timeFilter(ts) AND ${slo} GROUP BY time, slo)
            ARRAY JOIN mapKeys(b) AS k, mapValues(b) AS v WHERE endsWith(k, ':long') ORDER BY time`,
    },
    {
      title: 'Alert history',
      type: 'table',
      sql: `SELECT ts, slo, kind, transition, summary FROM alert_events WHERE $__timeFilter(ts) AND kind != 'canary' AND ${slo} ORDER BY ts DESC LIMIT 200`,
    },
  ],
});
