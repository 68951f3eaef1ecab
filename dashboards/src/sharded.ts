import type { Dashboard } from '@grafana/schema';
import { dataTables, readTables } from '../../store/cluster-ddl.js';
import type { StoreLayout } from '../../store/layout.js';
import { MIGRATIONS } from '../../store/migrations.js';

/**
 * The dashboards for a store whose rows are spread over several shards: the same panels, every
 * query reading the `<table>_all` Distributed tables (store/layout.ts `tableFor`) instead of one
 * shard's local tables. Written to dashboards/json-sharded/; on one node or one shard of
 * replicas, dashboards/json/ is the one to provision.
 */
export function shardedDashboards(dashboards: Record<string, Dashboard>, layout: StoreLayout): Record<string, Dashboard> {
  const tables = dataTables(MIGRATIONS.flatMap((m) => m.statements));
  // Only the SQL fields change: a panel's rawSql and a query variable's query.
  const rewrite = (key: string, value: unknown): unknown => ((key === 'rawSql' || key === 'query') && typeof value === 'string' ? readTables(value, tables, layout) : value);
  return Object.fromEntries(Object.entries(dashboards).map(([name, d]) => [name, JSON.parse(JSON.stringify(d), rewrite) as Dashboard]));
}
