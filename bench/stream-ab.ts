import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { col, runGrid, type Measured, type Target } from './lib/cells.js';
import { dist, MODELS, startFloor, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { runLoad } from './lib/load.js';
import { machineLine } from './lib/machine.js';
import { LOAD_CPU, pinSelf, SERVER_CPU, startNode, type Proc } from './lib/proc.js';
import { table } from './lib/stats.js';

/**
 * Streaming A/B in one run: Keel as built here and other builds of it (snapshots of bin/ and
 * dist/, see below) on the same pinned core, interleaved, full telemetry to a discarding OTLP
 * sink, with direct and the floor for scale. What a change to the stream path does to TTFT,
 * inter-token gaps and CPU per stream, without the drift between two runs on a shared VM.
 *
 * A snapshot: `mkdir /tmp/snap-a && cp -r bin dist package.json /tmp/snap-a && ln -s $PWD/node_modules /tmp/snap-a/`
 * Usage: BENCH_KEELS=a=/tmp/snap-a/bin/keel.js,b=/tmp/snap-b/bin/keel.js npm run build && node dist/bench/stream-ab.js
 * BENCH_FLOOR_SAME_CORE=1 adds a floor on the load generator's core (no cross-core hop).
 * BENCH_PHASES=1 also times, inside the floor and each Keel, a stream's phases at concurrency 1
 * (bench/lib/phases.ts): how much of what a proxy adds is its own work.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 10);
const CONC = (process.env.BENCH_CONC ?? '1,16').split(',').map(Number);

const body = (model: string) => () => JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const sinkPort = Number(new URL(sink.url).port);
  const procs: Proc[] = [upstream, sink];
  const targets: Target[] = [{ name: 'direct', url: upstream.url, body: body(MODELS.stream), pids: [], warmS: 5 }];
  const phases = process.env.BENCH_PHASES === '1';
  const phased: { name: string; proc: Proc; file: string; body: string }[] = [];
  // The preload finds its output file in the environment the process inherits.
  const withPhases = async (name: string, body: string, start: (nodeArgs: string[]) => Promise<Proc>): Promise<Proc> => {
    if (!phases) return start([]);
    const file = join(dir, `phases-${name.replace(/\W+/g, '-')}.json`);
    process.env.BENCH_PHASES_FILE = file;
    const proc = await start(['--import', join(dist, 'lib', 'phases.js')]);
    phased.push({ name, proc, file, body });
    return proc;
  };
  const floor = await withPhases('floor', body(MODELS.stream)(), (nodeArgs) =>
    nodeArgs.length === 0 ? startFloor(upstream.url) : startNode(join(dist, 'floor-proxy.js'), ['--port', '0', '--upstream', upstream.url], /floor proxy listening on (http:\/\/\S+)/, { cpu: SERVER_CPU, nodeArgs }),
  );
  procs.push(floor);
  targets.push({ name: 'floor', url: floor.url, body: body(MODELS.stream), pids: [floor.pid], warmS: WARM_S });
  if (process.env.BENCH_FLOOR_SAME_CORE === '1') {
    const same = await startFloor(upstream.url, LOAD_CPU);
    procs.push(same);
    targets.push({ name: 'floor, load core', url: same.url, body: body(MODELS.stream), pids: [same.pid], warmS: WARM_S });
  }
  const keels: [string, string | undefined][] = [['keel (this build)', undefined]];
  for (const kv of (process.env.BENCH_KEELS ?? '').split(',').filter(Boolean)) {
    const [name, bin] = kv.split('=');
    if (name !== undefined && bin !== undefined) keels.push([`keel ${name}`, bin]);
  }
  for (const [name, bin] of keels) {
    const p = await withPhases(name, body('stream')(), (nodeArgs) => startGateway(dir, upstream.url, { telemetry: true, collectorPort: sinkPort, bin, name: `${name.replace(/\W+/g, '-')}.yaml`, nodeArgs }));
    procs.push(p);
    targets.push({ name, url: p.url, body: body('stream'), pids: [p.pid], warmS: WARM_S });
  }
  const grid = await runGrid('bench stream-ab', targets, { path: '/v1/chat/completions', stream: true, concurrency: CONC, repeats: REPEATS, seconds: SECONDS });
  const phaseRows: string[][] = [];
  for (const t of phased) {
    process.stderr.write(`bench stream-ab: phases of ${t.name}, concurrency 1, ${SECONDS} s\n`);
    t.proc.child.kill('SIGUSR2');
    await runLoad({ url: t.proc.url, path: '/v1/chat/completions', body: t.body, connections: 1, seconds: SECONDS, stream: true });
    t.proc.child.kill('SIGUSR1');
    await new Promise((r) => setTimeout(r, 300));
    const m = JSON.parse(readFileSync(t.file, 'utf8')) as Record<'request' | 'first' | 'chunk', { p50: number; p90: number; n: number }>;
    const f = (k: 'request' | 'first' | 'chunk') => `${m[k].p50.toFixed(3)} / ${m[k].p90.toFixed(3)}`;
    phaseRows.push([t.name, f('request'), f('first'), f('chunk'), String(m.chunk.n)]);
  }
  for (const p of procs.reverse()) await p.stop();

  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const direct = byTarget.get('direct') ?? [];
    for (const t of targets) {
      const xs = byTarget.get(t.name) ?? [];
      const base = t.name === 'direct' ? undefined : direct;
      const add = (f: (m: Measured) => number) => (base ? col(xs, f, 2, base) : '—');
      rows.push([String(c), t.name, col(xs, (m) => m.ttft50), add((m) => m.ttft50), add((m) => m.ttft99), col(xs, (m) => m.gap50), add((m) => m.gap50), add((m) => m.gap99), base ? col(xs, (m) => m.cpuPerReq, 2) : '—']);
    }
  }
  process.stdout.write(
    [
      machineLine(),
      '',
      `${REPEATS} × ${SECONDS} s per cell, interleaved; median (min–max) ms; "added" = minus direct in the same repeat.`,
      '',
      table(['conc.', 'target', 'TTFT p50', 'added TTFT p50', 'added TTFT p99', 'gap p50', 'added gap p50', 'added gap p99', 'CPU ms/stream'], rows),
      '',
      ...(phaseRows.length === 0
        ? []
        : [
            'Inside each proxy, concurrency 1 (bench/lib/phases.ts), p50 / p90 ms: request = request in → sent upstream; first write = upstream chunk parsed → first write to the caller (with the headers); chunk = the same for every later write.',
            '',
            table(['target', 'request', 'first write', 'chunk', 'chunks'], phaseRows),
            '',
          ]),
    ].join('\n'),
  );
}

await main();
