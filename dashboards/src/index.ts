import type { Dashboard } from '@grafana/schema';
import { auditDashboard } from './audit.js';
import { costDashboard } from './cost.js';
import { gatewayOverview } from './gateway-overview.js';
import { providersRouting } from './providers.js';
import { sloDashboard } from './slos.js';
import { tracesDashboard } from './traces.js';

/**
 * Keel's Grafana dashboards, defined in TypeScript against @grafana/schema and written to
 * dashboards/json/ (what Grafana provisions). test/dashboards keeps the two in step and
 * runs every query on ClickHouse.
 */
export const DASHBOARDS: Record<string, Dashboard> = {
  'gateway-overview': gatewayOverview,
  'providers-routing': providersRouting,
  slos: sloDashboard,
  'cost-usage': costDashboard,
  traces: tracesDashboard,
  audit: auditDashboard,
};

export { DATASOURCE } from './common.js';
export { shardedDashboards } from './sharded.js';
