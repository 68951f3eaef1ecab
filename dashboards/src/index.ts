import type { Dashboard } from '@grafana/schema';
import { gatewayOverview } from './gateway-overview.js';

/**
 * Keel's Grafana dashboards, defined in TypeScript against @grafana/schema and written to
 * dashboards/json/ (what Grafana provisions). test/dashboards keeps the two in step and
 * runs every query on ClickHouse.
 */
export const DASHBOARDS: Record<string, Dashboard> = {
  'gateway-overview': gatewayOverview,
};

export { DATASOURCE } from './common.js';
