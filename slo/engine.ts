import type { ClickHouseClient } from '@clickhouse/client';
import { durationMs, type SloSpec } from '../config/slo-schema.js';
import { insertRows, queryRows, readTable } from '../store/index.js';
import { evaluate, type Evaluation } from './math.js';
import { sliQuery } from './sli-query.js';
import { scaledWindows } from './windows.js';

export interface SloResult {
  spec: SloSpec;
  at: number;
  evaluation: Evaluation;
  /** No events for `absent_after` (undefined when the SLO has no absent-data alert). */
  absent: boolean | undefined;
}

/** Reads one SLO's windows from sli_1m and evaluates it at `now`. */
export async function evaluateSlo(client: ClickHouseClient, spec: SloSpec, now: number): Promise<SloResult> {
  const periodMs = durationMs(spec.window);
  const windows = scaledWindows(periodMs);
  const absentMs = spec.absent_after === undefined ? undefined : durationMs(spec.absent_after);
  const q = sliQuery(spec, [periodMs, ...windows.flatMap((w) => [w.longMs, w.shortMs]), ...(absentMs === undefined ? [] : [absentMs])], now, readTable(client, 'sli_1m'));
  const [row] = await queryRows<Record<string, number>>(client, q.sql, q.params);
  const counts = q.read(row ?? {});
  const evaluation = evaluate(spec.objective, periodMs, windows, counts, spec.min_events);
  return { spec, at: now, evaluation, absent: absentMs === undefined ? undefined : counts(absentMs).total === 0 };
}

/** Evaluates every SLO and appends the results to `slo_evaluations`. */
export async function evaluateAll(client: ClickHouseClient, specs: readonly SloSpec[], now: number): Promise<SloResult[]> {
  const results: SloResult[] = [];
  for (const spec of specs) results.push(await evaluateSlo(client, spec, now));
  if (results.length > 0) {
    await insertRows(
      client,
      'slo_evaluations',
      results.map((r) => ({
        ts: String(r.at / 1000),
        slo: r.spec.name,
        objective: r.spec.objective,
        window_s: durationMs(r.spec.window) / 1000,
        events: Math.round(r.evaluation.events),
        bad: Math.round(r.evaluation.bad),
        sli: r.evaluation.sli,
        budget_remaining: r.evaluation.remaining,
        burn_rates: Object.fromEntries(r.evaluation.pairs.flatMap((p) => [[`${p.pair}:long`, p.longBurn], [`${p.pair}:short`, p.shortBurn]])),
        firing: r.evaluation.breaching,
      })),
      `slo:${now}`,
    );
  }
  return results;
}
