import type { SloSpec } from '../config/slo-schema.js';
import { LATENCY_LADDER_MS } from '../store/slo-ddl.js';
import type { Counts } from './math.js';

/**
 * One query per SLO reads every window it needs from `sli_1m` (never raw spans), with
 * conditional sums per window. Pure: builds SQL and parameters, and reads the row back.
 * `table` is what the store layout names sli_1m for reads (`sli_1m_all` on a sharded cluster).
 */
export interface SliQuery {
  sql: string;
  params: Record<string, string | number>;
  read(row: Record<string, number>): (ms: number) => Counts;
}

const SCOPE_COLUMN = { route: 'route', provider: 'provider', model: 'model', key: 'key_id', team: 'team' } as const;

/** The largest ladder bucket at or under the threshold: a stricter SLI, never a laxer one. */
export function ladderThreshold(thresholdMs: number): number {
  let best = 0;
  for (const b of LATENCY_LADDER_MS) if (b <= thresholdMs) best = b;
  return best;
}

/** The SLI's event counts as SQL over sli_1m rows matching `cond` (also used for Grafana rules). */
export function perWindow(spec: SloSpec, cond: string): { total: string; bad: string } {
  if (spec.sli === 'availability') {
    const callerFaults = `arraySum(mapValues(mapFilter((k, v) -> startsWith(k, 'caller_'), sumMapIf(failures, ${cond}))))`;
    return { total: `sumIf(requests, ${cond}) - ${callerFaults}`, bad: `sumIf(bad, ${cond})` };
  }
  const column = `${spec.sli.latency}_le`;
  const threshold = ladderThreshold(spec.sli.threshold_ms);
  const buckets = `sumMapIf(${column}, ${cond})`;
  const total = `arraySum(mapValues(${buckets}))`;
  return { total, bad: `${total} - arraySum(mapValues(mapFilter((k, v) -> k <= ${threshold}, ${buckets})))` };
}

/**
 * Windows end with the minute in progress: its sli_1m row is exact (the sum of every request
 * stored so far), so an outage shows at the next evaluation instead of once its minute has
 * closed (a minute plus an interval at worst). A window of `ms` is that many minutes of
 * rows, the open one last.
 */
export function sliQuery(spec: SloSpec, windowsMs: readonly number[], nowMs: number, table = 'sli_1m'): SliQuery {
  const end = Math.floor(nowMs / 60_000) * 60_000 + 60_000;
  const distinct = [...new Set(windowsMs)].sort((a, b) => a - b);
  const longest = distinct[distinct.length - 1] ?? 0;
  const params: Record<string, string | number> = { now: end / 1000 };
  const cols: string[] = [];
  distinct.forEach((ms, i) => {
    params[`from${i}`] = (end - ms) / 1000;
    const { total, bad } = perWindow(spec, `minute >= toDateTime({from${i}:UInt32})`);
    cols.push(`toFloat64(${total}) AS total_${i}`, `toFloat64(${bad}) AS bad_${i}`);
  });
  const where = [`minute >= toDateTime(${(end - longest) / 1000})`, 'minute < toDateTime({now:UInt32})'];
  for (const [key, column] of Object.entries(SCOPE_COLUMN)) {
    const value = spec.scope[key as keyof typeof SCOPE_COLUMN];
    if (value === undefined) continue;
    params[`scope_${key}`] = value;
    where.push(`${column} = {scope_${key}:String}`);
  }
  return {
    sql: `SELECT ${cols.join(', ')} FROM ${table} WHERE ${where.join(' AND ')}`,
    params,
    read: (row) => (ms) => {
      const i = distinct.indexOf(ms);
      return { total: row[`total_${i}`] ?? 0, bad: row[`bad_${i}`] ?? 0 };
    },
  };
}
