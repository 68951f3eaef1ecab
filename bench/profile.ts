import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distinctChat } from './lib/cells.js';
import { BENCH_KEY, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { runLoad } from './lib/load.js';
import { frameName, moduleOf, type CallFrame } from './lib/frames.js';
import { cpuMs, pinSelf } from './lib/proc.js';

/**
 * Where the gateway's CPU goes (issue 18: profile first). One gateway with everything on
 * (keel.example.yaml's stages, an exact cache missing every time, full telemetry to a
 * discarding OTLP sink) under PROFILE_CONCURRENCY connections (default 64) for PROFILE_S
 * seconds (default 20) after a warm-up, with --cpu-prof; prints the self time by module (a
 * gateway folder or an npm package), the top functions by self time, and those by inclusive
 * time. Start-up is outside the measured window but inside the profile: read shares of the
 * load, not of the whole file. The .cpuprofile is kept (its path is printed) for a flame graph.
 * Usage: npm run bench:profile  (PROFILE_MODE=full for full telemetry without the stages)
 */
const SECONDS = Number(process.env.PROFILE_S ?? 20);
const CONCURRENCY = Number(process.env.PROFILE_CONCURRENCY ?? 64);
const EVERYTHING = (process.env.PROFILE_MODE ?? 'all') === 'all';

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}



function top(m: Map<string, number>, total: number, n: number): string[] {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${((100 * t) / total).toFixed(1).padStart(5)} %  ${k}`);
}

function summarise(p: Profile): string[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const selfByNode = new Map<number, number>();
  let total = 0;
  p.samples.forEach((s, i) => {
    const d = p.timeDeltas[i] ?? 0;
    total += d;
    selfByNode.set(s, (selfByNode.get(s) ?? 0) + d);
  });
  const modules = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, d] of selfByNode) {
    const node = byId.get(id);
    if (node === undefined) continue;
    modules.set(moduleOf(node.callFrame), (modules.get(moduleOf(node.callFrame)) ?? 0) + d);
    self.set(frameName(node.callFrame), (self.get(frameName(node.callFrame)) ?? 0) + d);
    // Each frame once per sample, however deep its recursion.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)?.callFrame;
      if (f === undefined) break;
      const k = frameName(f);
      if (!seen.has(k)) inclusive.set(k, (inclusive.get(k) ?? 0) + d);
      seen.add(k);
    }
  }
  return ['Self time by module:', ...top(modules, total, 30), '', 'Top functions, self time:', ...top(self, total, 40), '', 'Top functions, inclusive:', ...top(inclusive, total, 60)];
}

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  const profDir = mkdtempSync(join(tmpdir(), 'keel-profile-'));
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const gw = await startGateway(dir, upstream.url, { telemetry: true, collectorPort: Number(new URL(sink.url).port), governance: EVERYTHING, cache: EVERYTHING, name: 'profile.yaml', nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`] });
  const body = distinctChat('bench');
  const headers = EVERYTHING ? { authorization: `Bearer ${BENCH_KEY}` } : undefined;
  const load = (seconds: number) => runLoad({ url: gw.url, path: '/v1/chat/completions', body: body(), bodyFor: body, headers, connections: CONCURRENCY, seconds });
  process.stderr.write(`bench profile: warming up 8 s, then ${SECONDS} s at concurrency ${CONCURRENCY}…\n`);
  await load(8);
  const cpu0 = cpuMs(gw.pid);
  const r = await load(SECONDS);
  const cpu = cpuMs(gw.pid) - cpu0;
  for (const p of [gw, sink, upstream]) await p.stop();
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`no .cpuprofile in ${profDir}: did the gateway exit cleanly?`);
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
  process.stdout.write(
    [
      `${EVERYTHING ? 'Everything on' : 'Full telemetry, no stages'}, concurrency ${CONCURRENCY}: ${r.rps.toFixed(0)} req/s, ${(cpu / Math.max(1, r.requests)).toFixed(3)} ms CPU per request, ${r.errors} errors.`,
      `Profile: ${join(profDir, file)}`,
      '',
      ...summarise(profile),
      '',
    ].join('\n'),
  );
}

await main();
