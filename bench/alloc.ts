import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distinctChat } from './lib/cells.js';
import { BENCH_KEY, dist, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { runLoad } from './lib/load.js';
import { frameName, moduleOf, type CallFrame } from './lib/frames.js';
import { cpuMs, pinSelf, root, type Proc } from './lib/proc.js';
import { median } from './lib/stats.js';

/**
 * Bytes allocated per request (issue 18: GC was ~9 % of the load's CPU, and its scavenges the
 * concurrency-1 tail). The everything-on gateway (keel.example.yaml's stages, an exact cache
 * missing every time, full telemetry to a discarding sink), with bench/lib/alloc-probe.ts
 * preloaded, under ALLOC_CONCURRENCY connections (64) for ALLOC_S seconds (5) per window,
 * ALLOC_ROUNDS windows (5): per window the bytes the main isolate allocated, scavenges and GC
 * pause per 1,000 requests, and gateway CPU per request. Then one more window with V8's
 * sampling heap profiler: the top allocation sites by module, by function, and by the nearest
 * gateway function on the stack (who asked for the bytes an npm package or a builtin allocated).
 * With ALLOC_BASELINE=<git rev> the same for a build of that revision, started beside this one,
 * the two windows of every round interleaved (order alternating): an A/B in one run.
 * ALLOC_NODE_ARGS adds V8 flags to the gateways: `--no-turbo-inlining` puts bytes on the function
 * that allocated them rather than on the optimised caller it was inlined into (CPU then differs).
 * Usage: npm run bench:alloc   (ALLOC_BASELINE=HEAD~1 npm run bench:alloc)
 */
const SECONDS = Number(process.env.ALLOC_S ?? 5);
const ROUNDS = Number(process.env.ALLOC_ROUNDS ?? 5);
const CONCURRENCY = Number(process.env.ALLOC_CONCURRENCY ?? 64);
const WARM_S = Number(process.env.ALLOC_WARM_S ?? 8);
const TOP = Number(process.env.ALLOC_TOP ?? 25);
const BASELINE = process.env.ALLOC_BASELINE;

interface HeapNode {
  callFrame: CallFrame;
  selfSize: number;
  children: HeapNode[];
}
interface Window {
  allocated: number;
  pauses: { type: string; us: number }[];
  profile?: { head: HeapNode };
}
interface Build {
  name: string;
  gw: Proc;
  rows: { bytes: number; cpu: number; scavenges: number; pauseMs: number }[];
}

const git = (args: string[], cwd = root) => {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

/** A detached, built checkout of `rev` sharing this checkout's node_modules (as bench/ab.ts). */
function checkout(rev: string): { bin: string; dir: string; commit: string } {
  const commit = git(['rev-parse', '--short', rev]);
  const dir = join(tempDir(), `keel-${commit}`);
  git(['worktree', 'add', '--detach', dir, commit]);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const built = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`the baseline ${commit} did not build`);
  return { bin: join(dir, 'bin', 'keel.js'), dir, commit };
}

const isGateway = (f: CallFrame) => f.url.includes('/dist/gateway/');

/** Self bytes by module, by function, and by the innermost gateway frame on each stack. */
function sites(head: HeapNode, requests: number): string[] {
  const modules = new Map<string, number>();
  const fns = new Map<string, number>();
  const owners = new Map<string, number>();
  const builtins = new Map<string, number>();
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  const walk = (node: HeapNode, owner: string, caller: string) => {
    const own = isGateway(node.callFrame) ? frameName(node.callFrame) : owner;
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(modules, moduleOf(node.callFrame), node.selfSize);
      add(fns, frameName(node.callFrame), node.selfSize);
      add(owners, own, node.selfSize);
      if (node.callFrame.url === '') add(builtins, `${node.callFrame.functionName || '(native)'} ← ${caller}`, node.selfSize);
    }
    for (const c of node.children) walk(c, own, frameName(node.callFrame));
  };
  walk(head, '(no gateway frame)', '(root)');
  const top = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP).map(([k, v]) => `${((100 * v) / total).toFixed(1).padStart(5)} % ${(v / requests).toFixed(0).padStart(7)} B/req  ${k}`);
  return [`Sampled: ${(total / requests).toFixed(0)} B/request.`, '', 'By module (self):', ...top(modules), '', 'By function (self):', ...top(fns), '', 'By the innermost gateway function on the stack:', ...top(owners), '', 'Builtins (entries, sort, Map…) by caller:', ...top(builtins)];
}

async function measure(b: Build, dir: string, body: () => string, seconds: number): Promise<{ w: Window; requests: number; cpu: number }> {
  const before = new Set(readdirSync(dir));
  b.gw.child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 100));
  const cpu0 = cpuMs(b.gw.pid);
  const r = await runLoad({ url: b.gw.url, path: '/v1/chat/completions', body: body(), bodyFor: body, headers: { authorization: `Bearer ${BENCH_KEY}` }, connections: CONCURRENCY, seconds });
  const cpu = cpuMs(b.gw.pid) - cpu0;
  b.gw.child.kill('SIGUSR2');
  if (r.errors > 0) throw new Error(`${b.name}: ${r.errors} errors (${r.firstError ?? ''})`);
  for (let i = 0; i < 600; i++) {
    const file = readdirSync(dir).find((f) => f.startsWith(`alloc-${b.gw.pid}-`) && !before.has(f));
    if (file !== undefined) {
      await new Promise((res) => setTimeout(res, 200));
      return { w: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Window, requests: r.requests, cpu };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${b.name}: the probe wrote nothing`);
}

const cell = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  const out = mkdtempSync(join(tmpdir(), 'keel-alloc-'));
  process.env.KEEL_ALLOC_DIR = out;
  const base = BASELINE === undefined ? undefined : checkout(BASELINE);
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const nodeArgs = ['--import', join(dist, 'lib', 'alloc-probe.js'), ...(process.env.ALLOC_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')];
  const start = (name: string, bin?: string) => startGateway(dir, upstream.url, { telemetry: true, collectorPort: Number(new URL(sink.url).port), governance: true, cache: true, name: `${name}.yaml`, nodeArgs, bin });
  const builds: Build[] = [{ name: 'this checkout', gw: await start('after'), rows: [] }];
  if (base !== undefined) builds.unshift({ name: `baseline ${base.commit}`, gw: await start('before', base.bin), rows: [] });
  const body = distinctChat('bench');
  process.stderr.write(`bench alloc: warming up ${WARM_S} s each, then ${ROUNDS} × ${SECONDS} s at concurrency ${CONCURRENCY}…\n`);
  for (const b of builds) await runLoad({ url: b.gw.url, path: '/v1/chat/completions', body: body(), bodyFor: body, headers: { authorization: `Bearer ${BENCH_KEY}` }, connections: CONCURRENCY, seconds: WARM_S });
  for (let round = 0; round < ROUNDS; round++) {
    for (const b of round % 2 === 0 ? builds : [...builds].reverse()) {
      const { w, requests, cpu } = await measure(b, out, body, SECONDS);
      const scav = w.pauses.filter((p) => p.type === 'Scavenge');
      b.rows.push({ bytes: w.allocated / requests, cpu: cpu / requests, scavenges: (1000 * scav.length) / requests, pauseMs: w.pauses.reduce((s, p) => s + p.us, 0) / 1000 / (requests / 1000) });
    }
  }
  const lines = [`## Allocation per request (\`npm run bench:alloc\`), concurrency ${CONCURRENCY}, ${ROUNDS} × ${SECONDS} s per build, median (min–max)`, '', '| build | bytes/request | scavenges per 1,000 req | GC pause ms per 1,000 req | gateway CPU ms/request |', '|---|---|---|---|---|'];
  for (const b of builds) lines.push(`| ${b.name} | ${cell(b.rows.map((r) => r.bytes), 0)} | ${cell(b.rows.map((r) => r.scavenges), 2)} | ${cell(b.rows.map((r) => r.pauseMs), 2)} | ${cell(b.rows.map((r) => r.cpu), 3)} |`);
  writeFileSync(join(out, 'sites'), '');
  for (const b of builds) {
    const { w, requests } = await measure(b, out, body, SECONDS);
    if (w.profile !== undefined) lines.push('', `### Allocation sites, ${b.name} (sampling heap profiler, one ${SECONDS} s window)`, '', '```', ...sites(w.profile.head, requests), '```');
  }
  for (const p of [...builds.map((b) => b.gw), sink, upstream]) await p.stop();
  if (base !== undefined) git(['worktree', 'remove', '--force', base.dir]);
  rmSync(out, { recursive: true, force: true });
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
