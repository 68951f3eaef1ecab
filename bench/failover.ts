import { droppedSpans, MODELS, startKeelWithCollector, startUpstream, tempDir } from './lib/fleet.js';
import { col, type Measured, runGrid, type Target } from './lib/cells.js';
import { machineLine } from './lib/machine.js';
import { pinSelf } from './lib/proc.js';
import { table } from './lib/stats.js';

/**
 * The failover path: what one retry and one fallback add. Through one Keel gateway (full
 * telemetry): `bench` answers at the first attempt; `retry` fails once (500) and is retried
 * at once on the same target (backoff 0, so the figure is Keel's own cost plus one more
 * upstream round trip); `fallback` fails on the first target and is answered by the second.
 * Bodies differ per request: the stand-in fails each body once.
 * Usage: npm run bench:failover
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 10);

const body = (model: string) => (n: number) => JSON.stringify({ model, messages: [{ role: 'user', content: `hi ${n}` }] });

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  const upstream = await startUpstream();
  const { collector, keel } = await startKeelWithCollector(dir, upstream.url);
  const pids = [keel.pid];
  const targets: Target[] = [
    { name: 'direct', url: upstream.url, body: body(MODELS.fast), pids: [], warmS: 3 },
    { name: 'keel, first attempt answers', url: keel.url, body: body('bench'), pids, collectorPid: collector.pid, warmS: WARM_S, dropped: () => droppedSpans(keel.url) },
    { name: 'keel, one retry', url: keel.url, body: body('retry'), pids, collectorPid: collector.pid, warmS: WARM_S, dropped: () => droppedSpans(keel.url) },
    { name: 'keel, one fallback', url: keel.url, body: body('fallback'), pids, collectorPid: collector.pid, warmS: WARM_S, dropped: () => droppedSpans(keel.url) },
  ];
  const grid = await runGrid('bench failover', targets, { path: '/v1/chat/completions', concurrency: [1, 16], repeats: REPEATS, seconds: SECONDS });
  const dropped = await droppedSpans(keel.url);
  for (const p of [keel, collector, upstream]) await p.stop();

  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const direct = byTarget.get('direct') ?? [];
    const single = byTarget.get('keel, first attempt answers') ?? [];
    for (const t of targets) {
      const xs = byTarget.get(t.name) ?? [];
      const vs = (base: Measured[], f: (m: Measured) => number) => (t.name === 'direct' || xs === base ? '—' : col(xs, f, 2, base));
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50), col(xs, (m) => m.p99), vs(direct, (m) => m.p50), vs(single, (m) => m.p50), vs(single, (m) => m.p99), col(xs, (m) => m.cpuPerReq, 3), col(xs, (m) => m.collectorCpuPerReq, 3), col(xs, (m) => m.dropped, 0)]);
    }
  }
  process.stdout.write(
    [
      '## Failover path (`npm run bench:failover`)',
      '',
      machineLine(),
      '',
      `Non-streaming chat through one Keel gateway with full telemetry; failures are HTTP 500 from the stand-in; retry backoff 0 ms; breakers never open. ${REPEATS} runs of ${SECONDS} s per cell after warm-up; median (min–max), ms. "added by the failover" = this path − the first-attempt path of the same repeat (one more upstream round trip included: direct p50 is that round trip).`,
      '',
      table(['conc.', 'path', 'req/s', 'p50', 'p99', 'added p50 vs direct', 'added by the failover, p50', 'added by the failover, p99', 'gateway CPU ms/req', 'collector CPU ms/req', 'spans dropped'], rows),
      '',
      `Spans the full-telemetry gateway dropped over the whole run (keel_telemetry_dropped_total): ${dropped}.`,
      '',
    ].join('\n'),
  );
}

await main();
