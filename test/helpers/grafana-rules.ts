import type { ClickHouseClient } from '@clickhouse/client';
import { expandMacros } from '../../dashboards/src/macros.js';
import { queryRows } from '../../store/index.js';

/**
 * Evaluates a Grafana alert rule the way Grafana's backend does, against ClickHouse at a
 * chosen instant: datasource queries (macros expanded over the query's relative range),
 * then reduce, threshold and math expressions, then the rule's condition.
 */
export interface RuleQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: { rawSql?: string; type?: string; expression?: string; reducer?: string; settings?: { mode?: string; replaceWithValue?: number }; conditions?: { evaluator: { type: string; params: number[] } }[] };
}

export interface Rule {
  uid: string;
  title: string;
  condition: string;
  for?: string;
  data: RuleQuery[];
}

/** `$A > 1 && ($B < 2 || $C > 3)`: the subset of Grafana math the rules use. */
export function evalMath(expr: string, vars: Record<string, number>): number {
  const tokens = expr.match(/\$\w+|\d+(?:\.\d+)?|&&|\|\||[<>()]/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const atom = (): number => {
    const t = tokens[i++];
    if (t === '(') {
      const v = or();
      i++;
      return v;
    }
    if (t?.startsWith('$')) return vars[t.slice(1)] ?? Number.NaN;
    return Number(t);
  };
  const cmp = (): number => {
    const left = atom();
    const op = peek();
    if (op === '>' || op === '<') {
      i++;
      const right = atom();
      return (op === '>' ? left > right : left < right) ? 1 : 0;
    }
    return left;
  };
  const and = (): number => {
    let v = cmp();
    while (peek() === '&&') {
      i++;
      const r = cmp();
      v = v !== 0 && r !== 0 ? 1 : 0;
    }
    return v;
  };
  const or = (): number => {
    let v = and();
    while (peek() === '||') {
      i++;
      const r = and();
      v = v !== 0 || r !== 0 ? 1 : 0;
    }
    return v;
  };
  return or();
}

export async function ruleFires(client: ClickHouseClient, rule: Rule, nowMs: number): Promise<boolean> {
  const series: Record<string, number[]> = {};
  const value: Record<string, number> = {};
  for (const q of rule.data) {
    const m = q.model;
    if (q.datasourceUid !== '__expr__') {
      const from = nowMs - (q.relativeTimeRange?.from ?? 0) * 1000;
      const rows = await queryRows<Record<string, unknown>>(client, expandMacros(m.rawSql ?? '', { fromMs: from, toMs: nowMs, intervalMs: 60_000 }));
      series[q.refId] = rows.map((r) => Object.values(r).find((v): v is number => typeof v === 'number') ?? Number.NaN);
    } else if (m.type === 'reduce') {
      let values = series[m.expression ?? ''] ?? [];
      if (m.settings?.mode === 'dropNN') values = values.filter((v) => Number.isFinite(v));
      if (m.settings?.mode === 'replaceNN') values = values.map((v) => (Number.isFinite(v) ? v : (m.settings?.replaceWithValue ?? 0)));
      if (values.length === 0 && m.settings?.mode === 'replaceNN') values = [m.settings.replaceWithValue ?? 0];
      value[q.refId] = m.reducer === 'max' ? Math.max(...values) : (values[values.length - 1] ?? Number.NaN);
    } else if (m.type === 'threshold') {
      const v = value[m.expression ?? ''] ?? Number.NaN;
      const e = m.conditions?.[0]?.evaluator;
      value[q.refId] = e?.type === 'gt' ? Number(v > (e.params[0] ?? 0)) : Number(v < (e?.params[0] ?? 0));
    } else if (m.type === 'math') {
      value[q.refId] = evalMath(m.expression ?? '', value);
    }
  }
  return (value[rule.condition] ?? 0) !== 0;
}
