import { col, med, runGrid, type Measured, type Target } from './lib/cells.js';
import { BENCH_KEY, startGateway, startOtlpSink, startRedis, startUpstream, tempDir } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, type Proc } from './lib/proc.js';
import { median, medianRange, table } from './lib/stats.js';

/**
 * What issue 15's stages cost on the hot path: auth (route access) + RPM/TPM limits + budget
 * reservation and reconcile + guardrails in and out, on the `bench` route, against the same
 * gateway without them, in one run, interleaved on the pinned server core; once with
 * in-process state and once with a real redis-server on loopback. Full telemetry to the
 * discarding sink everywhere. Acceptance: ≤ 0.3 ms added p50 at concurrency 1 with Redis.
 * Usage: npm run bench:governance  (BENCH_SECONDS, BENCH_REPEATS, BENCH_WARM_S)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 15);
const TARGET_MS = 0.3;
const CELLS = {
  plainLocal: 'no stages, in-process state',
  govLocal: 'keys + limits + budgets + guardrails, in-process state',
  plainRedis: 'no stages, state.redis',
  govRedis: 'keys + limits + budgets + guardrails, state.redis',
} as const;

const chat = (model: string) => () => JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi, what is the weather like today in the city?' }] });

async function startTargets(procs: Proc[]): Promise<Target[]> {
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const redis = await startRedis();
  procs.push(upstream, sink, redis);
  const collectorPort = Number(new URL(sink.url).port);
  // A deadline for a shared machine (bench:state measures the default's own cost).
  const r = { url: redis.url, deadlineMs: 200 };
  const gw = {
    plainLocal: await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'plain-local.yaml' }),
    govLocal: await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'gov-local.yaml', governance: true }),
    plainRedis: await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'plain-redis.yaml', redis: r }),
    govRedis: await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'gov-redis.yaml', redis: r, governance: true }),
  };
  procs.push(...Object.values(gw));
  const auth = { authorization: `Bearer ${BENCH_KEY}` };
  const keel = (k: keyof typeof CELLS, governed: boolean): Target => ({ name: CELLS[k], url: gw[k].url, body: chat('bench'), pids: [gw[k].pid], warmS: WARM_S, ...(governed ? { headers: auth } : {}) });
  return [{ name: 'direct', url: upstream.url, body: chat('fast'), pids: [], warmS: 5 }, keel('plainLocal', false), keel('govLocal', true), keel('plainRedis', false), keel('govRedis', true)];
}

/** Governed − plain, repeat by repeat, for one backend. */
function added(byTarget: Map<string, Measured[]>, gov: string, plain: string, f: (m: Measured) => number): number[] {
  const a = byTarget.get(gov) ?? [];
  const b = byTarget.get(plain) ?? [];
  return a.map((m, i) => f(m) - f(b[i] ?? m));
}

function rowsOf(results: Map<number, Map<string, Measured[]>>, targets: Target[]): string[][] {
  const rows: string[][] = [];
  for (const [c, byTarget] of results) {
    const direct = byTarget.get('direct') ?? [];
    for (const t of targets.slice(1)) {
      const xs = byTarget.get(t.name) ?? [];
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50, 2, direct), col(xs, (m) => m.p99, 2, direct), col(xs, (m) => m.cpuPerReq, 3)]);
    }
    for (const [label, gov, plain] of [['**stages − none, in-process**', CELLS.govLocal, CELLS.plainLocal], ['**stages − none, Redis**', CELLS.govRedis, CELLS.plainRedis]] as const) {
      rows.push([String(c), label, '', medianRange(added(byTarget, gov, plain, (m) => m.p50), 3), medianRange(added(byTarget, gov, plain, (m) => m.p99), 2), medianRange(added(byTarget, gov, plain, (m) => m.cpuPerReq), 3)]);
    }
  }
  return rows;
}

function verdict(results: Map<number, Map<string, Measured[]>>): string {
  const c1 = results.get(1) ?? new Map<string, Measured[]>();
  const parts = ([['in-process', CELLS.govLocal, CELLS.plainLocal], ['Redis', CELLS.govRedis, CELLS.plainRedis]] as const).map(([name, gov, plain]) => {
    const xs = added(c1, gov, plain, (m) => m.p50);
    const spread = Math.max(...xs) - Math.min(...xs);
    return { name, added: median(xs), spread };
  });
  const redis = parts[1];
  const noisy = redis === undefined || redis.spread > 2 * TARGET_MS;
  const word = noisy ? 'INCONCLUSIVE (noisy: rerun on a quieter machine)' : redis.added <= TARGET_MS ? 'PASS' : 'FAIL';
  return `**Verdict: ${word}** — the stages add ${parts.map((p) => `${p.added.toFixed(3)} ms p50 with ${p.name} state (paired spread ${p.spread.toFixed(2)} ms)`).join(' and ')} at concurrency 1 (target ≤ ${TARGET_MS} ms with Redis on loopback).`;
}

async function main(): Promise<void> {
  pinSelf();
  const procs: Proc[] = [];
  const targets = await startTargets(procs);
  const results = new Map<number, Map<string, Measured[]>>();
  for (const c of [1, 64]) {
    const grid = await runGrid('bench governance', targets, { path: '/v1/chat/completions', concurrency: [c], repeats: REPEATS, seconds: SECONDS });
    for (const [k, v] of grid.results) results.set(k, v);
    for (const t of targets) t.warmS = 1;
  }
  for (const p of procs.reverse()) await p.stop();
  const cpu64 = (name: string) => med(results.get(64)?.get(name), (m) => m.cpuPerReq);
  process.stdout.write(
    [
      '## Governance stages: added latency, same run (`npm run bench:governance`)',
      '',
      machineLine(),
      '',
      `Non-streaming chat through the lean stand-in; four gateways alone on the server core with full telemetry to the discarding OTLP sink, targets interleaved, ${REPEATS} × ${SECONDS} s per cell after ${WARM_S} s of warm-up; redis-server on the load core (loopback, deadline_ms 200). The governed gateways run auth (route globs), RPM + TPM for the key, budgets for the key (day) and its team (month), a secrets guardrail on the request and an email/card guardrail on the answer, all passing. Median (min–max); "added" = target − direct of the same repeat, ms; the bold rows pair governed and plain gateways repeat by repeat.`,
      '',
      table(['conc.', 'target', 'req/s', 'added p50', 'added p99', 'proxy CPU ms/req'], rowsOf(results, targets)),
      '',
      verdict(results),
      '',
      `CPU per request at concurrency 64: ${Object.values(CELLS).map((n) => `${n} ${cpu64(n).toFixed(3)} ms`).join('; ')}.`,
      '',
    ].join('\n'),
  );
}

await main();
