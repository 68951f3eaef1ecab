/**
 * Evaluates the PromQL subset alerts/prometheus/keel-collector.rules.yml uses, for a single
 * unlabelled series per metric (one collector): `a and b` of comparisons `lhs > rhs`, where lhs
 * is a metric or `increase(metric[window])` and rhs a number or `k * metric`. Anything outside
 * the subset throws, so a rule edited past it fails its test instead of passing unevaluated.
 */
export type Samples = Record<string, number>;

/** Prometheus text format → value per metric name (unlabelled series only). */
export function parseExposition(text: string): Samples {
  const out: Samples = {};
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*) (\S+)$/gm)) out[m[1] ?? ''] = Number(m[2]);
  return out;
}

/** Metric names an expression reads. */
export function metricNames(expr: string): string[] {
  return [...new Set([...expr.replace(/\[[^\]]*\]/g, '').matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)].map((m) => m[1] ?? '').filter((n) => n !== 'and'))];
}

function value(term: string, now: Samples, before: Samples): number {
  const t = term.trim();
  const inc = /^increase\((\w+)\[\d+[smh]\]\)$/.exec(t);
  // Two scrapes inside the window: increase is their difference (counters here never reset mid-test).
  if (inc !== null) return (now[inc[1] ?? ''] ?? Number.NaN) - (before[inc[1] ?? ''] ?? 0);
  const scaled = /^(\d+(?:\.\d+)?)\s*\*\s*(\w+)$/.exec(t);
  if (scaled !== null) return Number(scaled[1]) * (now[scaled[2] ?? ''] ?? Number.NaN);
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t);
  if (/^\w+$/.test(t)) return now[t] ?? Number.NaN;
  throw new Error(`outside the evaluated PromQL subset: ${t}`);
}

/** Whether `expr` holds on `now` (with `before` an earlier scrape, for increase()). */
export function promFires(expr: string, now: Samples, before: Samples = {}): boolean {
  return expr.split(/\s+and\s+/).every((cmp) => {
    const [lhs, rhs, extra] = cmp.split(/\s+>\s+/);
    if (lhs === undefined || rhs === undefined || extra !== undefined) throw new Error(`outside the evaluated PromQL subset: ${cmp}`);
    return value(lhs, now, before) > value(rhs, now, before);
  });
}
