import { cpuMs, rssMiB } from './proc.js';
import { quantile, runLoad, type LoadResult } from './load.js';
import { median, medianRange } from './stats.js';

/** Something the load generator talks to, and the processes whose CPU it costs. */
export interface Target {
  name: string;
  url: string;
  headers?: Record<string, string>;
  /** Request body for this target (routes are named differently through Keel than direct). */
  body: (n: number) => string;
  /** The proxy's processes (the server core). */
  pids: number[];
  /** Keel's collector (spans into ClickHouse), reported apart: it runs on the other core. */
  collectorPid?: number;
  /** Seconds of load before measuring (JIT, pools; Portkey needs ~25 s). */
  warmS: number;
  /** Reads the spans this target has dropped so far (Keel gateways with telemetry). */
  dropped?: () => Promise<number>;
}

export interface Measured {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  ttft50: number;
  ttft99: number;
  /** Inter-token gaps the client saw (streams only; NaN otherwise). */
  gap50: number;
  gap99: number;
  /** CPU of the proxy's processes per request, ms. */
  cpuPerReq: number;
  /** CPU of the collector per request, ms (NaN without one). */
  collectorCpuPerReq: number;
  /** Spans the target dropped during the cell (NaN when it has no telemetry). */
  dropped: number;
}

export interface CellSpec {
  path: string;
  stream?: boolean;
  concurrency: number[];
  repeats: number;
  seconds: number;
}

const measure = (r: LoadResult, cpu: number, collectorCpu: number, dropped: number): Measured => ({
  rps: r.rps,
  p50: quantile(r.latency, 0.5),
  p90: quantile(r.latency, 0.9),
  p99: quantile(r.latency, 0.99),
  ttft50: quantile(r.ttft, 0.5),
  ttft99: quantile(r.ttft, 0.99),
  gap50: quantile(r.gaps, 0.5),
  gap99: quantile(r.gaps, 0.99),
  cpuPerReq: r.requests > 0 ? cpu / r.requests : Number.NaN,
  collectorCpuPerReq: r.requests > 0 ? collectorCpu / r.requests : Number.NaN,
  dropped,
});

export interface Grid {
  /** results[concurrency][target name] = one Measured per repeat */
  results: Map<number, Map<string, Measured[]>>;
  rss: Map<string, { before: number; after: number }>;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Warms every target, then runs each concurrency `repeats` times, targets interleaved within a repeat. */
export async function runGrid(label: string, targets: Target[], spec: CellSpec): Promise<Grid> {
  const rss = new Map<string, { before: number; after: number }>();
  for (const t of targets) {
    log(`${label}: warming ${t.name} for ${t.warmS} s…`);
    await runLoad({ url: t.url, path: spec.path, body: '', bodyFor: t.body, headers: t.headers, connections: 16, seconds: t.warmS, stream: spec.stream });
    rss.set(t.name, { before: t.pids.reduce((s, p) => s + rssMiB(p), 0), after: 0 });
  }
  const results = new Map<number, Map<string, Measured[]>>();
  const cells = spec.concurrency.length * spec.repeats * targets.length;
  let done = 0;
  for (const c of spec.concurrency) {
    const byTarget = new Map<string, Measured[]>();
    results.set(c, byTarget);
    for (let i = 0; i < spec.repeats; i++) {
      for (const t of targets) {
        log(`${label}: [${++done}/${cells}] concurrency ${c}, ${t.name}, run ${i + 1}/${spec.repeats}`);
        const c0 = t.pids.reduce((s, p) => s + cpuMs(p), 0);
        const k0 = t.collectorPid === undefined ? Number.NaN : cpuMs(t.collectorPid);
        const d0 = t.dropped === undefined ? Number.NaN : await t.dropped();
        const r = await runLoad({ url: t.url, path: spec.path, body: '', bodyFor: t.body, headers: t.headers, connections: c, seconds: spec.seconds, stream: spec.stream });
        if (r.errors > 0) throw new Error(`${t.name}: ${r.errors} failed requests (first: ${r.firstError ?? '?'})`);
        const cpu = t.pids.reduce((s, p) => s + cpuMs(p), 0) - c0;
        const collectorCpu = t.collectorPid === undefined ? Number.NaN : cpuMs(t.collectorPid) - k0;
        const list = byTarget.get(t.name) ?? [];
        const dropped = t.dropped === undefined ? Number.NaN : (await t.dropped()) - d0;
        list.push(measure(r, cpu, collectorCpu, dropped));
        byTarget.set(t.name, list);
      }
    }
  }
  for (const t of targets) {
    const r = rss.get(t.name);
    if (r !== undefined) r.after = t.pids.reduce((s, p) => s + rssMiB(p), 0);
  }
  return { results, rss };
}

/** `median (min–max)` of one field; `minus` gives the per-repeat difference to a baseline target. */
export function col(xs: Measured[], f: (m: Measured) => number, digits = 2, minus?: Measured[]): string {
  const v = xs.map((m, i) => f(m) - (minus ? f(minus[i] ?? m) : 0));
  return v.some(Number.isNaN) ? '—' : medianRange(v, digits);
}

export function med(xs: Measured[] | undefined, f: (m: Measured) => number): number {
  return median((xs ?? []).map(f));
}

/** The same one-line question every request. */
export const chatBody = (model: string) => (): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

/**
 * Every request a new question: an exact cache takes its miss path (lookup, capture, store)
 * on every one. Counted here, not by the load generator (which restarts at 0 every cell), so
 * no question is asked twice in a run.
 */
export function distinctChat(model: string): () => string {
  let n = 0;
  return () => JSON.stringify({ model, messages: [{ role: 'user', content: `hi, question ${n++}` }] });
}
