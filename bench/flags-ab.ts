import { chatBody, col, distinctChat, runGrid, type Target } from './lib/cells.js';
import { BENCH_KEY, MODELS, startFloor, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, type Proc } from './lib/proc.js';
import { table } from './lib/stats.js';

/**
 * One build, two sets of Node/V8 flags, side by side: the everything-on gateway (keel.example.yaml's
 * stages, an exact cache missing every time, full telemetry to a discarding sink) started once
 * plain and once with BENCH_FLAGS, on the same pinned core, interleaved, with the floor for scale.
 * What a runtime setting does to the tail and the CPU, without the drift between two runs.
 * Usage: BENCH_FLAGS='--max-semi-space-size=64' BENCH_CONC=1,64 npm run bench:flags-ab
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 15);
const FLAGS = (process.env.BENCH_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
const CONCURRENCY = (process.env.BENCH_CONC ?? '1,64').split(',').map(Number);

async function main(): Promise<void> {
  if (FLAGS.length === 0) throw new Error('bench flags-ab: set BENCH_FLAGS to the node flags to compare, e.g. BENCH_FLAGS=--max-semi-space-size=64');
  pinSelf();
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const procs: Proc[] = [upstream, sink];
  const start = async (name: string, nodeArgs: string[]): Promise<Target> => {
    const p = await startGateway(dir, upstream.url, { telemetry: true, collectorPort: Number(new URL(sink.url).port), governance: true, cache: true, nodeArgs, name: `${name.replace(/\W+/g, '-')}.yaml` });
    procs.push(p);
    return { name, url: p.url, body: distinctChat('bench'), pids: [p.pid], warmS: WARM_S, headers: { authorization: `Bearer ${BENCH_KEY}` } };
  };
  const floor = await startFloor(upstream.url);
  procs.push(floor);
  const targets: Target[] = [
    { name: 'direct', url: upstream.url, body: chatBody(MODELS.fast), pids: [], warmS: 5 },
    { name: 'floor', url: floor.url, body: chatBody(MODELS.fast), pids: [floor.pid], warmS: WARM_S },
    await start('everything on, plain', []),
    await start(`everything on, ${FLAGS.join(' ')}`, FLAGS),
  ];
  const grid = await runGrid('bench flags-ab', targets, { path: '/v1/chat/completions', concurrency: CONCURRENCY, repeats: REPEATS, seconds: SECONDS });
  for (const p of procs.reverse()) await p.stop();
  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const direct = byTarget.get('direct') ?? [];
    for (const t of targets.slice(1)) {
      const xs = byTarget.get(t.name) ?? [];
      const rss = grid.rss.get(t.name);
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50, 2, direct), col(xs, (m) => m.p99, 2, direct), col(xs, (m) => m.cpuPerReq, 3), rss === undefined ? '—' : rss.after.toFixed(0)]);
    }
  }
  process.stdout.write(
    [
      `## Node flags A/B, same build, same run (\`npm run bench:flags-ab\`, BENCH_FLAGS=${FLAGS.join(' ')})`,
      '',
      machineLine(),
      '',
      `Non-streaming chat through the lean stand-in; every gateway alone on the server core, targets interleaved, ${REPEATS} × ${SECONDS} s per cell after ${WARM_S} s of warm-up; median (min–max). "added" = target − direct of the same repeat, ms.`,
      '',
      table(['conc.', 'target', 'req/s', 'added p50', 'added p99', 'proxy CPU ms/req', 'RSS MiB at end'], rows),
      '',
    ].join('\n'),
  );
}

await main();
