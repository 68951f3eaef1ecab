import type { Dashboard } from '@grafana/schema';
import { byVar, dashboard, variable } from './common.js';

/**
 * Audit: who changed what and when (issue 15 §5), from `audit_log`: config loads and reloads,
 * key, budget and limit changes, weight pins, canary steps, SLO alerts and leadership. A
 * dashboard of its own rather than a row on the overview: it is read by other people (security,
 * compliance) over long ranges (the table keeps 400 days), not glanced at during an incident.
 */
export const auditDashboard: Dashboard = dashboard({
  uid: 'keel-audit',
  title: 'Keel — Audit log',
  tags: ['keel', 'audit'],
  from: 'now-7d',
  refresh: '1m',
  variables: [variable('event', 'Event', 'audit_log', 'event'), variable('source', 'Source', 'audit_log', 'source')],
  panels: [
    {
      title: 'Events in range, by kind',
      type: 'bargauge',
      format: 1,
      w: 24,
      h: 6,
      sql: `SELECT event, count() AS events FROM audit_log
            WHERE $__timeFilter(ts) AND ${byVar('event', 'event')} AND ${byVar('source', 'source')}
            GROUP BY event ORDER BY events DESC`,
    },
    {
      title: 'Audit log (newest first)',
      type: 'table',
      w: 24,
      h: 16,
      description: 'subject names a key by its id, never the key; detail holds the non-secret facts as JSON; config_hash is over the config without its secrets.',
      sql: `SELECT ts, source, instance, event, subject, actor, config_version, config_hash, detail FROM audit_log
            WHERE $__timeFilter(ts) AND ${byVar('event', 'event')} AND ${byVar('source', 'source')}
            ORDER BY ts DESC, event LIMIT 500`,
    },
  ],
});
