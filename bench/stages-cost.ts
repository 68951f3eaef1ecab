import { chatBody, col, distinctChat, med, runGrid, type Target } from './lib/cells.js';
import { BENCH_KEY, MODELS, startFloor, startGateway, startOtlpSink, startUpstream, tempDir, type GatewayOptions } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, type Proc } from './lib/proc.js';
import { table } from './lib/stats.js';

/**
 * What each part of "everything on" costs, one build, one run: gateways with full telemetry to a
 * discarding sink (and one with telemetry off), the same distinct request bodies, adding the governance stages (keys, limits,
 * budgets, guardrails) and the exact cache (its miss path: lookup, capture, store) apart and
 * together, on the same pinned core, interleaved, with the floor for scale. Where issue 18's
 * distance between "full telemetry" and "everything on" goes, measured rather than guessed.
 * Usage: BENCH_CONC=1,64 npm run bench:stages-cost
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_S = Number(process.env.BENCH_WARM_S ?? 15);
const CONCURRENCY = (process.env.BENCH_CONC ?? '1,64').split(',').map(Number);

interface Variant {
  name: string;
  telemetry?: false;
  governance: boolean;
  cache: boolean;
  extraYaml?: string[];
}

const VARIANTS: Variant[] = [
  { name: 'telemetry off', telemetry: false, governance: false, cache: false },
  { name: 'full telemetry', governance: false, cache: false },
  { name: '+ governance stages', governance: true, cache: false },
  { name: '+ exact cache (miss path)', governance: false, cache: true },
  { name: 'everything on', governance: true, cache: true },
  // The same miss path with a cache held to 4 MiB: what the retained entries cost (GC, heap growth) apart from the work per request.
  { name: 'everything on, cache.max_bytes 4 MiB', governance: true, cache: true, extraYaml: ['cache: { max_bytes: 4194304 }'] },
];

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  const procs: Proc[] = [upstream, sink];
  const start = async (v: Variant): Promise<Target> => {
    const o: GatewayOptions = { telemetry: v.telemetry ?? true, collectorPort: Number(new URL(sink.url).port), governance: v.governance, cache: v.cache, extraYaml: v.extraYaml, name: `${v.name.replace(/\W+/g, '-')}.yaml` };
    const p = await startGateway(dir, upstream.url, o);
    procs.push(p);
    const t: Target = { name: v.name, url: p.url, body: distinctChat('bench'), pids: [p.pid], warmS: WARM_S };
    return v.governance ? { ...t, headers: { authorization: `Bearer ${BENCH_KEY}` } } : t;
  };
  const floor = await startFloor(upstream.url);
  procs.push(floor);
  const targets: Target[] = [
    { name: 'direct', url: upstream.url, body: chatBody(MODELS.fast), pids: [], warmS: 5 },
    { name: 'floor', url: floor.url, body: chatBody(MODELS.fast), pids: [floor.pid], warmS: WARM_S },
  ];
  for (const v of VARIANTS) targets.push(await start(v));
  const grid = await runGrid('bench stages-cost', targets, { path: '/v1/chat/completions', concurrency: CONCURRENCY, repeats: REPEATS, seconds: SECONDS });
  for (const p of procs.reverse()) await p.stop();
  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const direct = byTarget.get('direct') ?? [];
    const base = med(byTarget.get('full telemetry'), (m) => m.cpuPerReq);
    const floorCpu = med(byTarget.get('floor'), (m) => m.cpuPerReq);
    for (const t of targets.slice(1)) {
      const xs = byTarget.get(t.name) ?? [];
      const rss = grid.rss.get(t.name);
      const cpu = med(xs, (m) => m.cpuPerReq);
      const extra = t.name === 'floor' || t.name === 'full telemetry' ? '—' : (cpu - base).toFixed(3);
      rows.push([String(c), t.name, col(xs, (m) => m.rps, 0), col(xs, (m) => m.p50, 2, direct), col(xs, (m) => m.p99, 2, direct), col(xs, (m) => m.cpuPerReq, 3), extra, `${(cpu / floorCpu).toFixed(2)}×`, rss === undefined ? '—' : `${rss.before.toFixed(0)} → ${rss.after.toFixed(0)}`]);
    }
  }
  process.stdout.write(
    [
      '## What each stage costs, same build, same run (`npm run bench:stages-cost`)',
      '',
      machineLine(),
      '',
      `Non-streaming chat through the lean stand-in, distinct request bodies for every Keel gateway; every gateway alone on the server core with full telemetry to the discarding OTLP sink, targets interleaved, ${REPEATS} × ${SECONDS} s per cell after ${WARM_S} s of warm-up; median (min–max). "added" = target − direct of the same repeat, ms; "over full telemetry" = the cell's CPU per request minus the full-telemetry gateway's, same concurrency.`,
      '',
      table(['conc.', 'target', 'req/s', 'added p50', 'added p99', 'proxy CPU ms/req', 'over full telemetry', '× floor', 'RSS MiB'], rows),
      '',
    ].join('\n'),
  );
}

await main();
