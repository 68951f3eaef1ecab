import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { sloBlockSchema } from '../config/slo-schema.js';
import { effectiveSlos, evaluateAll } from '../slo/index.js';
import { SLI_1M_MV_V3 } from '../store/customer-ddl.js';
import { migrate, openStore, queryRows } from '../store/index.js';
import { machineLine } from './lib/machine.js';
import { medianRange, table } from './lib/stats.js';

/**
 * SLO evaluation cost: 30 days of `sli_1m` rollups for 10 M requests in embedded ClickHouse,
 * then every default SLO (availability and TTFT per route) evaluated at the end of the month,
 * as the SLO loop does each cycle (one query per SLO, results appended to slo_evaluations).
 * The rollups are made by the production view's own SELECT over generated requests, so
 * the rows, keys and sketches have the shape real traffic leaves.
 * Usage: npm run bench:slo
 */
const REQUESTS = Number(process.env.BENCH_SLO_REQUESTS ?? 10_000_000);
const DAYS = 30;
const ROUTES = ['chat', 'summarize', 'embed-search', 'agent'];
const REPEATS = 5;
const log = (s: string) => process.stderr.write(`bench slo: ${s}\n`);

/** One generated request per number (fields from a hash, so they do not move in step): routes, providers, keys and teams spread evenly; 1 % errors, streams TTFT 80–2580 ms. */
function requests(startS: number): string {
  const minutes = DAYS * 24 * 60;
  return `(SELECT
      toDateTime64(${startS} + (number % ${minutes}) * 60 + (number % 60), 9) AS Timestamp,
      intHash64(number) AS h,
      ['${ROUTES.join("','")}'][1 + h % ${ROUTES.length}] AS route,
      ['openai', 'anthropic'][1 + intDiv(h, 4) % 2] AS provider,
      ['gpt-4o-mini', 'claude-haiku'][1 + intDiv(h, 4) % 2] AS response_model,
      concat('key-', toString(intDiv(h, 8) % 4)) AS key_id,
      concat('team-', toString(intDiv(h, 8) % 2)) AS team,
      concat('customer-', toString(intDiv(h, 8) % 3)) AS customer,
      (number % 100) != 7 AS ok,
      if(ok, '', ['provider_server_error', 'provider_rate_limit', 'timeout'][1 + number % 3]) AS error_class,
      intDiv(h, 32) % 2 = 0 AS stream,
      number % 50 = 3 AS fallback_used,
      toUInt64(200 + number % 800) AS input_tokens,
      toUInt64(50 + number % 400) AS output_tokens,
      (200 + number % 800) * 0.15e-6 + (50 + number % 400) * 0.6e-6 AS cost_usd,
      if(stream, toNullable(toFloat64(80 + (number * 7919) % 2500)), NULL) AS ttft_ms,
      toFloat64(300 + (number * 104729) % 4000) AS duration_ms,
      toUInt32(if(stream, 40, 0)) AS itl_count,
      toFloat64(if(stream, 5 + number % 30, 0)) AS itl_mean_ms
    FROM numbers(${REQUESTS})) AS llm_requests`;
}

async function timeEvaluations(client: Parameters<typeof evaluateAll>[0], now: number): Promise<number[]> {
  const specs = effectiveSlos(sloBlockSchema.parse({}), ROUTES);
  await evaluateAll(client, specs, now);
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    const results = await evaluateAll(client, specs, now);
    times.push(performance.now() - t0);
    if (results.length !== specs.length || results.some((r) => r.evaluation.events === 0)) throw new Error('an SLO saw no events: the generated data does not cover it');
  }
  return times;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-slo-'));
  const store = openStore({ path: join(dir, 'data'), database: 'default' });
  await migrate(store.client, { traces: 7, metrics: 7, requests: 30, sli: 400 });
  const end = Math.floor(Date.now() / 60_000) * 60_000;
  const startS = (end - DAYS * 86_400_000) / 1000;
  const select = SLI_1M_MV_V3.slice(SLI_1M_MV_V3.indexOf(' AS SELECT') + 4).replace('FROM llm_requests', `FROM ${requests(startS)}`);
  log(`rolling up ${(REQUESTS / 1e6).toFixed(0)} M generated requests over ${DAYS} days into sli_1m…`);
  const t0 = performance.now();
  await store.client.command({ query: `INSERT INTO sli_1m ${select}`, clickhouse_settings: { max_memory_usage: '8000000000' } });
  const genS = (performance.now() - t0) / 1000;
  const count = async () => (await queryRows<{ rows: number; requests: number }>(store.client, 'SELECT count() AS rows, sum(requests) AS requests FROM sli_1m'))[0];
  const unmerged = await count();
  log(`${unmerged?.rows ?? 0} rollup rows in ${genS.toFixed(1)} s; evaluating…`);
  const before = await timeEvaluations(store.client, end);
  log('merging parts (OPTIMIZE FINAL), as a month of background merges would…');
  await store.client.command({ query: 'OPTIMIZE TABLE sli_1m FINAL' });
  const merged = await count();
  const after = await timeEvaluations(store.client, end);
  await store.close();
  const slos = effectiveSlos(sloBlockSchema.parse({}), ROUTES).length;
  const ok = (xs: number[]) => (Math.max(...xs) < 1000 ? 'met' : '**not met**');
  process.stdout.write(
    [
      '## SLO evaluation (`npm run bench:slo`)',
      '',
      machineLine(),
      '',
      `${(Number(merged?.requests ?? 0) / 1e6).toFixed(1)} M requests over ${DAYS} days rolled up into sli_1m by the production view's SELECT (${ROUTES.length} routes × 2 providers × 4 keys); ${slos} default SLOs (availability 99.5 % and TTFT ≤ 2 s per route), each with its 30-day window and the six burn-rate windows, evaluated in one cycle, results written to slo_evaluations. Embedded ClickHouse in the bench process, unpinned. ${REPEATS} cycles after one warm-up cycle; median (min–max), ms per cycle.`,
      '',
      table(['sli_1m state', 'rows', 'ms per cycle (all SLOs)', 'ms per SLO', 'target < 1 s'], [
        ['as inserted (unmerged parts)', String(unmerged?.rows ?? 0), medianRange(before, 0), medianRange(before.map((t) => t / slos), 1), ok(before)],
        ['merged', String(merged?.rows ?? 0), medianRange(after, 0), medianRange(after.map((t) => t / slos), 1), ok(after)],
      ]),
      '',
    ].join('\n'),
  );
}

await main();
