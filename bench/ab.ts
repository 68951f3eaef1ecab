import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { chatBody, col, distinctChat, runGrid, type Target } from './lib/cells.js';
import { BENCH_KEY, MODELS, startFloor, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, root, type Proc } from './lib/proc.js';
import { table } from './lib/stats.js';

/**
 * Before/after in one run: Keel at a baseline commit and Keel as checked out, side by side
 * on the same pinned core, interleaved (telemetry off; full telemetry to a discarding OTLP
 * sink; and issue 18's everything on: keel.example.yaml's stages and an exact cache missing
 * every time, to the same sink), with the floor for scale. What a change costs on the hot path, measured
 * without the drift between two runs on a shared VM.
 * Usage: BENCH_BASELINE=<git rev> npm run bench:ab  (default the main branch's parent of HEAD: HEAD~1)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 15);
const REV = process.env.BENCH_BASELINE ?? 'HEAD~1';

const git = (args: string[], cwd = root) => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

/** A detached checkout of the baseline, built, sharing this checkout's node_modules. */
function baselineCheckout(): { bin: string; commit: string } {
  const commit = git(['rev-parse', '--short', REV]);
  const dir = join(tempDir(), `keel-${commit}`);
  process.stderr.write(`bench ab: building the baseline ${commit} in ${dir}…\n`);
  git(['worktree', 'add', '--detach', dir, commit]);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const built = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  if (built.status !== 0 || !existsSync(join(dir, 'dist', 'cli', 'main.js'))) throw new Error(`the baseline ${commit} did not build`);
  return { bin: join(dir, 'bin', 'keel.js'), commit };
}

const chat = chatBody;
const CONCURRENCY = (process.env.BENCH_CONC ?? '1,64').split(',').map(Number);

async function main(): Promise<void> {
  pinSelf();
  const head = git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) === '' ? '' : '+changes');
  const base = baselineCheckout();
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const sinkPort = Number(new URL(sink.url).port);
  const procs: Proc[] = [upstream, sink];
  const start = async (name: string, bin: string | undefined, telemetry: boolean, everything = false) => {
    const p = await startGateway(dir, upstream.url, { telemetry, collectorPort: sinkPort, bin, governance: everything, cache: everything, name: `${name.replace(/\W+/g, '-')}.yaml` });
    procs.push(p);
    const t: Target = { name, url: p.url, body: everything ? distinctChat('bench') : chat('bench'), pids: [p.pid], warmS: WARM_S };
    return everything ? { ...t, headers: { authorization: `Bearer ${BENCH_KEY}` } } : t;
  };
  const floor = await startFloor(upstream.url);
  procs.push(floor);
  const targets: Target[] = [
    { name: 'direct', url: upstream.url, body: chat(MODELS.fast), pids: [], warmS: 5 },
    { name: 'floor', url: floor.url, body: chat(MODELS.fast), pids: [floor.pid], warmS: WARM_S },
    await start(`before (${base.commit}), telemetry off`, base.bin, false),
    await start(`after (${head}), telemetry off`, undefined, false),
    await start(`before (${base.commit}), full telemetry → sink`, base.bin, true),
    await start(`after (${head}), full telemetry → sink`, undefined, true),
    await start(`before (${base.commit}), everything on → sink`, base.bin, true, true),
    await start(`after (${head}), everything on → sink`, undefined, true, true),
  ];
  const grid = await runGrid('bench ab', targets, { path: '/v1/chat/completions', concurrency: CONCURRENCY, repeats: REPEATS, seconds: SECONDS });
  for (const p of procs.reverse()) await p.stop();
  git(['worktree', 'remove', '--force', join(base.bin, '..', '..')]);
  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const direct = byTarget.get('direct') ?? [];
    for (const t of targets.slice(1)) {
      const xs = byTarget.get(t.name) ?? [];
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50, 2, direct), col(xs, (m) => m.p99, 2, direct), col(xs, (m) => m.cpuPerReq, 3)]);
    }
  }
  process.stdout.write(
    [
      `## Before/after, same run (\`npm run bench:ab\`, baseline ${base.commit}, after ${head})`,
      '',
      machineLine(),
      '',
      `Non-streaming chat through the lean stand-in; every gateway alone on the server core, targets interleaved, ${REPEATS} × ${SECONDS} s per cell after ${WARM_S} s of warm-up; median (min–max). "added" = target − direct of the same repeat, ms.`,
      '',
      table(['conc.', 'target', 'req/s', 'added p50', 'added p99', 'proxy CPU ms/req'], rows),
      '',
    ].join('\n'),
  );
}

await main();
