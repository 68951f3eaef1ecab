import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SERVER_CPU, cpuMs, keelBin, peakWhile, pinSelf, startKeel, type Proc } from './lib/proc.js';
import { keelConfig, startUpstream, tempDir } from './lib/fleet.js';
import { spanBatches } from './lib/spans.js';
import { quantile } from './lib/load.js';
import { median, medianRange, table } from './lib/stats.js';
import { measureVisibility } from './lib/visibility.js';
import { blast, refusals, sendBatch, type Batch } from './lib/ingest-load.js';

/**
 * The collector's before/after: two collectors (A: another checkout's bin/keel.js, B: this one)
 * pinned to the same core, fed the same OTLP batches in turn, A and B interleaved round after
 * round (the order alternating), so the shared machine's noise lands on both. Per blast: CPU ms
 * per 1000 spans (all threads, and the main thread, /proc/<pid>/task), RSS and anonymous peaks.
 * Usage: node dist/bench/ingest-ab.js <A's bin/keel.js>
 *   BENCH_AB_ROUNDS (default 4), BENCH_INGEST_BATCHES (100), BENCH_AB_NODE_ARGS (e.g. --cpu-prof, B only),
 *   BENCH_AB_VIS_ROUNDS (default 2): visibility cells as bench:ingest's (at the ceiling, and paced
 *   at 90 % of each collector's own measured rate), BENCH_VIS_SECONDS (10) each.
 */
const VIS_ROUNDS = Number(process.env.BENCH_AB_VIS_ROUNDS ?? 2);
const VIS_S = Number(process.env.BENCH_VIS_SECONDS ?? 10);
const VIS_EVERY_MS = 200;
const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 4);
const BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 100);
const PER_BATCH = 500;
const SENDERS = 4;

/** CPU ms of the main thread and of every other thread, by thread name (comm). */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(join(`/proc/${pid}/task`, tid, 'stat'), 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * 10;
    const key = tid === String(pid) ? 'main' : comm.replace(/[\d_-]+$/, '');
    out.set(key, (out.get(key) ?? 0) + ms);
  }
  return out;
}

interface Cell {
  cpu: number[];
  main: number[];
  rate: number[];
  rss: number[];
  anon: number[];
  threads: Map<string, number>;
  spans: number;
}

async function run(p: Proc, batches: Batch[], cell: Cell): Promise<void> {
  const c0 = cpuMs(p.pid);
  const t0 = threadCpu(p.pid);
  const { result, rssMiB, anonMiB } = await peakWhile(p.pid, () => blast(p.url, batches, { senders: SENDERS }));
  const k = result.spans / 1000;
  const t1 = threadCpu(p.pid);
  cell.cpu.push((cpuMs(p.pid) - c0) / k);
  cell.main.push(((t1.get('main') ?? 0) - (t0.get('main') ?? 0)) / k);
  cell.rate.push(result.spans / result.seconds);
  cell.rss.push(rssMiB);
  cell.anon.push(anonMiB);
  cell.spans += result.spans;
  // Threads that ended between the samples are lost: a per-name total, for where the time went.
  for (const [name, ms] of t1) cell.threads.set(name, (cell.threads.get(name) ?? 0) + ms - (t0.get(name) ?? 0));
}

type Collector = Proc & { dir: string };

async function start(bin: string, upstream: string, nodeArgs: string[]): Promise<Collector> {
  const dir = tempDir();
  const cfg = keelConfig(dir, 'collector.yaml', upstream, true, 0);
  return { ...(await startKeel(['collector', '--config', cfg, '--slo-port', '0'], /listening on (http:\/\/\S+) \(OTLP/, { cwd: dir, cpu: SERVER_CPU, bin, nodeArgs })), dir };
}

let probeSeq = 0;

/** One visibility cell (bench/ingest.ts's): p50 and p99 seconds until a probe's row is in llm_requests, and the rate meanwhile. */
async function visibility(p: Collector, batches: Batch[], pace: number | undefined): Promise<{ p50: number; p99: number; rate: number; missing: number; cpu: number; refused: number }> {
  const count = Math.ceil((VIS_S * 1000) / VIS_EVERY_MS) + 1;
  const first = probeSeq;
  probeSeq += count;
  const probes = spanBatches(count, 1, 'vis-', first).map((b) => b.body);
  const until = performance.now() + VIS_S * 1000;
  const c0 = cpuMs(p.pid);
  const r0 = refusals.count;
  const [b, seen] = await Promise.all([
    blast(p.url, batches, { senders: SENDERS, until, pace }),
    measureVisibility({ url: p.url, dir: p.dir, probes, first, prefix: 'vis-', everyMs: VIS_EVERY_MS, until, send: (body) => sendBatch(p.url, { body, spans: 0 }) }),
  ]);
  const lat = Float64Array.from(seen.latencies).sort();
  return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), rate: b.spans / b.seconds, missing: seen.missing, cpu: (cpuMs(p.pid) - c0) / (b.spans / 1000), refused: refusals.count - r0 };
}

async function main(): Promise<void> {
  const binA = process.argv[2];
  if (binA === undefined) throw new Error('usage: ingest-ab.js <A bin/keel.js>');
  pinSelf();
  const batches = spanBatches(BATCHES, PER_BATCH);
  const upstream = await startUpstream();
  const nodeArgs = (process.env.BENCH_AB_NODE_ARGS ?? '').split(' ').filter((s) => s !== '');
  const procs = { A: await start(binA, upstream.url, []), B: await start(keelBin, upstream.url, nodeArgs) };
  const cells: Record<'A' | 'B', Cell> = { A: { cpu: [], main: [], rate: [], rss: [], anon: [], threads: new Map(), spans: 0 }, B: { cpu: [], main: [], rate: [], rss: [], anon: [], threads: new Map(), spans: 0 } };
  for (const p of Object.values(procs)) await blast(p.url, batches.slice(0, 20), { senders: SENDERS });
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      await run(procs[name], batches, cells[name]);
      process.stderr.write(`ingest-ab: round ${i + 1}/${ROUNDS} ${name}: ${cells[name].cpu.at(-1)?.toFixed(1)} ms/1000 spans (main ${cells[name].main.at(-1)?.toFixed(1)}), RSS ${cells[name].rss.at(-1)?.toFixed(0)} MiB\n`);
    }
  }
  const vis = { A: [] as Awaited<ReturnType<typeof visibility>>[], B: [] as Awaited<ReturnType<typeof visibility>>[] };
  const paced = { A: [] as typeof vis.A, B: [] as typeof vis.B };
  for (let i = 0; i < VIS_ROUNDS; i++) {
    for (const name of i % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      vis[name].push(await visibility(procs[name], batches, undefined));
      paced[name].push(await visibility(procs[name], batches, 0.9 * median(cells[name].rate)));
      process.stderr.write(`ingest-ab: visibility round ${i + 1}/${VIS_ROUNDS} ${name}: ceiling p99 ${vis[name].at(-1)?.p99.toFixed(2)} s at ${vis[name].at(-1)?.rate.toFixed(0)} spans/s; paced p99 ${paced[name].at(-1)?.p99.toFixed(2)} s at ${paced[name].at(-1)?.rate.toFixed(0)}\n`);
    }
  }
  for (const p of [procs.A, procs.B, upstream]) await p.stop();
  const rows = (['A', 'B'] as const).map((n) => [n, medianRange(cells[n].cpu, 1), medianRange(cells[n].main, 1), medianRange(cells[n].rate, 0), medianRange(cells[n].rss, 0), medianRange(cells[n].anon, 0)]);
  const names = [...new Set([...cells.A.threads.keys(), ...cells.B.threads.keys()])].sort((a, b) => (cells.B.threads.get(b) ?? 0) - (cells.B.threads.get(a) ?? 0));
  const perK = (n: 'A' | 'B', t: string) => (((cells[n].threads.get(t) ?? 0) / cells[n].spans) * 1000).toFixed(1);
  process.stdout.write(`${ROUNDS} rounds of ${BATCHES} batches of ${PER_BATCH} spans, A = ${binA}, B = ${keelBin}; median (min–max)\n\n`);
  process.stdout.write(`${table(['', 'CPU ms / 1000 spans', 'main thread ms / 1000', 'spans/s', 'RSS peak MiB', 'anon peak MiB'], rows)}\n\n`);
  process.stdout.write(`${table(['thread', 'A ms / 1000 spans', 'B ms / 1000 spans'], names.slice(0, 12).map((t) => [t, perK('A', t), perK('B', t)]))}\n`);
  if (VIS_ROUNDS === 0) return;
  const visRow = (n: 'A' | 'B', cell: string, xs: typeof vis.A) => [n, cell, medianRange(xs.map((x) => x.rate), 0), medianRange(xs.map((x) => x.p50)), medianRange(xs.map((x) => x.p99)), String(xs.reduce((k, x) => k + x.missing, 0)), medianRange(xs.map((x) => x.cpu), 1), medianRange(xs.map((x) => x.refused), 0)];
  const visRows = (['A', 'B'] as const).flatMap((n) => [visRow(n, 'ceiling', vis[n]), visRow(n, 'paced 90 %', paced[n])]);
  process.stdout.write(`\nVisibility in llm_requests, ${VIS_ROUNDS} rounds of ${VIS_S} s per cell:\n\n${table(['', 'blast', 'spans/s', 'visible p50 s', 'p99 s', 'never seen', 'CPU ms / 1000 spans', 'refused (429/503)'], visRows)}\n`);
}

await main();
