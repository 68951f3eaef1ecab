/**
 * The Grafana ClickHouse plugin's macro expansion (pkg/macros/macros.go, standards.md §3.3)
 * and Grafana's template variable substitution, so tests run exactly the SQL Grafana would
 * send. Times are UTC epoch; `$__interval_s` is at least 1.
 */
export interface QueryTime {
  fromMs: number;
  toMs: number;
  intervalMs: number;
}

const sec = (ms: number) => Math.floor(ms / 1000);

export function expandMacros(sql: string, t: QueryTime): string {
  const intervalS = Math.max(1, Math.floor(t.intervalMs / 1000));
  return sql
    .replace(/\$__timeFilter_ms\(([^)]+)\)/g, (_m, c: string) => `${c.trim()} >= fromUnixTimestamp64Milli(${t.fromMs}) AND ${c.trim()} <= fromUnixTimestamp64Milli(${t.toMs})`)
    .replace(/\$__timeFilter\(([^)]+)\)/g, (_m, c: string) => `${c.trim()} >= toDateTime(${sec(t.fromMs)}) AND ${c.trim()} <= toDateTime(${sec(t.toMs)})`)
    .replace(/\$__timeInterval_ms\(([^)]+)\)/g, (_m, c: string) => `toStartOfInterval(toDateTime64(${c.trim()}, 3), INTERVAL ${Math.max(1, t.intervalMs)} millisecond)`)
    .replace(/\$__timeInterval\(([^)]+)\)/g, (_m, c: string) => `toStartOfInterval(toDateTime(${c.trim()}), INTERVAL ${intervalS} second)`)
    .replace(/\$__timeFrom\(([^)]+)\)/g, (_m, c: string) => `${c.trim()} >= toDateTime(${sec(t.fromMs)})`)
    .replace(/\$__timeTo\(([^)]+)\)/g, (_m, c: string) => `${c.trim()} <= toDateTime(${sec(t.toMs)})`)
    .replace(/\$__fromTime_ms/g, `fromUnixTimestamp64Milli(${t.fromMs})`)
    .replace(/\$__toTime_ms/g, `fromUnixTimestamp64Milli(${t.toMs})`)
    .replace(/\$__fromTime/g, `toDateTime(${sec(t.fromMs)})`)
    .replace(/\$__toTime/g, `toDateTime(${sec(t.toMs)})`)
    .replace(/\$__interval_s/g, String(intervalS));
}

/** `${name}` and `$name` → the variable's value (single value; "All" is its allValue). */
export function substituteVariables(sql: string, vars: Record<string, string>): string {
  return sql.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return name.startsWith('__') ? m : (vars[name] ?? m);
  });
}
