import { spawnSync } from 'node:child_process';
import { col, med, runGrid, type Measured, type Target } from './lib/cells.js';
import { startGateway, startOtlpSink, startRedis, startUpstream, tempDir } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, type Proc } from './lib/proc.js';
import { median, medianRange, table } from './lib/stats.js';

/**
 * What the Redis-backed state layer (DESIGN.md §9) costs on the hot path: two gateways on the
 * same pinned server core, interleaved in one run, both with full telemetry to the discarding
 * OTLP sink; one keeps state in-process, the other shares breakers through a real redis-server
 * on the load core. Acceptance (issue 14): ≤ 0.2 ms added p50 at concurrency 1.
 * Also the capacity of one replica at full telemetry: 1000 / CPU ms per request.
 * Usage: npm run bench:state  (BENCH_SECONDS, BENCH_REPEATS, BENCH_WARM_S)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 15);
const TARGET_MS = 0.2;
const IN_PROCESS = 'in-process state, full telemetry → sink';
const REDIS = 'state.redis (redis-server on loopback), full telemetry → sink';

const chat = (model: string) => () => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

/** The gateway's own view of its state backend: the cell is void if it never reached Redis or fell back. */
async function stateOf(url: string): Promise<{ backend: string; degraded: boolean }> {
  const body = (await (await fetch(`${url}/readyz`)).json()) as { state: { backend: string; degraded: boolean } };
  return body.state;
}

/** Commands Redis has served so far (INFO stats), to show the layer was exercised, per request. */
function redisCommands(redisUrl: string): number {
  const port = new URL(redisUrl).port;
  const r = spawnSync('redis-cli', ['-p', port, 'info', 'stats'], { encoding: 'utf8' });
  const m = /total_commands_processed:(\d+)/.exec(r.stdout ?? '');
  return m?.[1] === undefined ? Number.NaN : Number(m[1]);
}

/** What Redis adds over in-process, per repeat (same repeat, same direct baseline cancels out). */
const redisMinusInProcess = (byTarget: Map<string, Measured[]>, f: (m: Measured) => number): number[] => {
  const a = byTarget.get(REDIS) ?? [];
  const b = byTarget.get(IN_PROCESS) ?? [];
  return a.map((m, i) => f(m) - f(b[i] ?? m));
};

async function startTargets(procs: Proc[]): Promise<{ targets: Target[]; redis: Proc; redisGw: string }> {
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const redis = await startRedis();
  procs.push(upstream, sink, redis);
  const collectorPort = Number(new URL(sink.url).port);
  const local = await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'in-process.yaml' });
  const shared = await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'redis.yaml', redisUrl: redis.url });
  procs.push(local, shared);
  const keel = (name: string, p: Proc): Target => ({ name, url: p.url, body: chat('bench'), pids: [p.pid], warmS: WARM_S });
  const targets = [{ name: 'direct', url: upstream.url, body: chat('fast'), pids: [], warmS: 5 }, keel(IN_PROCESS, local), keel(REDIS, shared)];
  return { targets, redis, redisGw: shared.url };
}

async function main(): Promise<void> {
  pinSelf();
  const procs: Proc[] = [];
  const { targets, redis, redisGw } = await startTargets(procs);
  const before = await stateOf(redisGw);
  if (before.backend !== 'redis' || before.degraded) throw new Error(`the Redis gateway is not on Redis: ${JSON.stringify(before)}`);
  const cmd0 = redisCommands(redis.url);
  const grid = await runGrid('bench state', targets, { path: '/v1/chat/completions', concurrency: [1, 64], repeats: REPEATS, seconds: SECONDS });
  const cmd1 = redisCommands(redis.url);
  const after = await stateOf(redisGw);
  for (const p of procs.reverse()) await p.stop();
  process.stdout.write(report(grid.results, targets, { degraded: after.degraded, commands: cmd1 - cmd0 }));
}

function rowsOf(results: Map<number, Map<string, Measured[]>>, targets: Target[]): string[][] {
  const rows: string[][] = [];
  for (const [c, byTarget] of results) {
    const direct = byTarget.get('direct') ?? [];
    for (const t of targets.slice(1)) {
      const xs = byTarget.get(t.name) ?? [];
      const perCore = col(xs, (m) => 1000 / m.cpuPerReq, 0);
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50, 2, direct), col(xs, (m) => m.p99, 2, direct), col(xs, (m) => m.cpuPerReq, 3), perCore]);
    }
    const d50 = redisMinusInProcess(byTarget, (m) => m.p50);
    const d99 = redisMinusInProcess(byTarget, (m) => m.p99);
    const dCpu = redisMinusInProcess(byTarget, (m) => m.cpuPerReq);
    rows.push([String(c), '**Redis − in-process**', '', medianRange(d50, 2), medianRange(d99, 2), medianRange(dCpu, 3), '']);
  }
  return rows;
}

function verdict(results: Map<number, Map<string, Measured[]>>): string {
  const c1 = results.get(1) ?? new Map<string, Measured[]>();
  const xs = redisMinusInProcess(c1, (m) => m.p50);
  const added = median(xs);
  const pass = added <= TARGET_MS;
  return `**Verdict: ${pass ? 'PASS' : 'FAIL'}** — the Redis state layer adds ${added.toFixed(3)} ms p50 at concurrency 1 over in-process (median of ${xs.length} paired repeats; target ≤ ${TARGET_MS} ms).`;
}

function capacity(results: Map<number, Map<string, Measured[]>>): string {
  const parts = [IN_PROCESS, REDIS].map((name) => {
    const xs = results.get(64)?.get(name);
    const cpu = med(xs, (m) => m.cpuPerReq);
    return `${name.split(',')[0] ?? name}: ${Math.round(1000 / cpu)} req/s per core (${cpu.toFixed(3)} CPU ms/req; measured ${Math.round(med(xs, (m) => m.rps))} req/s on the one core)`;
  });
  return `Capacity of one replica at full telemetry, concurrency 64 (1000 / CPU ms per request, same run): ${parts.join('; ')}.`;
}

function report(results: Map<number, Map<string, Measured[]>>, targets: Target[], redis: { degraded: boolean; commands: number }): string {
  const requests = [...results.values()].reduce((n, byTarget) => n + (byTarget.get(REDIS) ?? []).reduce((s, m) => s + m.rps * SECONDS, 0), 0);
  return [
    '## State layer: Redis vs in-process, same run (`npm run bench:state`)',
    '',
    machineLine(),
    '',
    `Non-streaming chat through the lean stand-in; both gateways alone on the server core with full telemetry to the discarding OTLP sink, targets interleaved, ${REPEATS} × ${SECONDS} s per cell after ${WARM_S} s of warm-up; redis-server ${redisVersion()} on the load core (loopback). Median (min–max). "added" = target − direct of the same repeat, ms; "Redis − in-process" pairs the two gateways repeat by repeat. Redis served ${(redis.commands / requests).toFixed(2)} commands per request through the Redis gateway (INFO total_commands_processed), and its gateway ${redis.degraded ? 'WAS DEGRADED (fell back) by the end: the cells are void' : 'stayed on Redis (/readyz state.degraded false) throughout'}.`,
    '',
    table(['conc.', 'target', 'req/s', 'added p50', 'added p99', 'proxy CPU ms/req', 'req/s per core (1000 / CPU ms)'], rowsOf(results, targets)),
    '',
    verdict(results),
    '',
    capacity(results),
    '',
  ].join('\n');
}

function redisVersion(): string {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return /v=(\S+)/.exec(r.stdout ?? '')?.[1] ?? '?';
}

await main();
