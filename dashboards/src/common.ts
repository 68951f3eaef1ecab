import type { Dashboard, DataQuery, DataSourceRef, Panel, VariableModel } from '@grafana/schema';

/** The ClickHouse plugin's query model (standards.md §3.4). */
type ClickHouseQuery = Pick<DataQuery, 'refId' | 'datasource'> & {
  editorType: 'sql';
  format: number;
  rawSql: string;
};

/**
 * Building blocks for Keel's dashboards, typed by @grafana/schema so a malformed panel is
 * a compile error. Every query reads Keel's ClickHouse through the one provisioned
 * datasource uid, in the plugin's SQL mode (standards.md §3.4).
 */
export const DATASOURCE: DataSourceRef = { type: 'grafana-clickhouse-datasource', uid: 'keel-clickhouse' };

/** Filter for a template variable whose "All" value is `__all__`. */
export const byVar = (column: string, variable: string) => `('\${${variable}}' = '__all__' OR ${column} = '\${${variable}}')`;

export function variable(name: string, label: string, table: string, column: string): VariableModel {
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    query: `SELECT DISTINCT ${column} FROM ${table} WHERE ${column} != '' ORDER BY ${column}`,
    includeAll: true,
    allValue: '__all__',
    current: { text: 'All', value: '$__all' },
    refresh: 2,
  };
}

export interface PanelSpec {
  title: string;
  sql: string;
  /** Data links per column (e.g. TraceId → the trace view). */
  links?: Record<string, { title: string; url: string }>;
  /** Grafana format: 0 time series, 1 table, 3 traces. */
  format?: 0 | 1 | 3;
  type?: 'timeseries' | 'stat' | 'table' | 'bargauge' | 'traces';
  unit?: string;
  w?: number;
  h?: number;
  description?: string;
}

/** Lays panels out left to right, 24 columns wide. */
export function panels(specs: readonly PanelSpec[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return specs.map((s, i) => {
    const target: ClickHouseQuery = { refId: 'A', datasource: DATASOURCE, editorType: 'sql', format: s.format ?? (s.type === 'table' || s.type === 'stat' ? 1 : 0), rawSql: s.sql.trim().replace(/\s+/g, ' ') };
    const w = s.w ?? 12;
    const h = s.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const panel: Panel = {
      id: i + 1,
      type: s.type ?? 'timeseries',
      title: s.title,
      description: s.description,
      datasource: DATASOURCE,
      gridPos: { x, y, w, h },
      fieldConfig: {
        defaults: s.unit === undefined ? {} : { unit: s.unit },
        overrides: Object.entries(s.links ?? {}).map(([column, link]) => ({ matcher: { id: 'byName', options: column }, properties: [{ id: 'links', value: [link] }] })),
      },
      options: {},
      targets: [target],
    };
    x += w;
    rowH = Math.max(rowH, h);
    return panel;
  });
}

export interface DashboardSpec {
  uid: string;
  title: string;
  tags: string[];
  from: string;
  refresh: string;
  variables: VariableModel[];
  panels: PanelSpec[];
}

/** The settings every Keel dashboard shares (read-only, UTC, shared crosshair), around its own panels. */
export function dashboard(d: DashboardSpec): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    tags: d.tags,
    timezone: 'utc',
    schemaVersion: 41,
    editable: false,
    graphTooltip: 1,
    time: { from: d.from, to: 'now' },
    refresh: d.refresh,
    templating: { list: d.variables },
    panels: panels(d.panels),
  };
}
