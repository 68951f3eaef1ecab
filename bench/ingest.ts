import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { LOAD_CPU, SERVER_CPU, cpuMs, pinSelf } from './lib/proc.js';
import { startCollector, startGateway, startUpstream, tempDir } from './lib/fleet.js';
import { runLoad, quantile } from './lib/load.js';
import { machineLine } from './lib/machine.js';
import { spanBatches } from './lib/spans.js';
import { median, medianRange, table } from './lib/stats.js';

/**
 * Collector ingest: OTLP protobuf span batches (the gateway's own span shapes) sent to a
 * `keel collector` pinned to one core; the clock stops when the collector reports every
 * span inserted into embedded ClickHouse (its /healthz insertedRows), not at the 200s
 * (which mean "on disk").
 * Then the event-loop delay of a gateway serving traffic beside it, with and without the blast.
 * Usage: npm run bench:ingest
 */
const REPEATS = 3;
const SENDERS = 4;
const PER_BATCH = 500;
const BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 200);
const PHASE_S = Number(process.env.BENCH_SECONDS ?? 8);

type Batch = { body: Uint8Array; spans: number };

async function send(url: string, b: Batch): Promise<void> {
  for (;;) {
    const res = await request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: b.body });
    await res.body.dump();
    if (res.statusCode === 200) return;
    if (res.statusCode !== 429 && res.statusCode !== 503) throw new Error(`collector answered ${res.statusCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function insertedRows(url: string): Promise<number> {
  const res = await request(`${url}/healthz`);
  return ((await res.body.json()) as { insertedRows: number }).insertedRows;
}

/**
 * Sends the batches (cycling while `until` is in the future, else once each), then waits
 * until the collector reports them inserted: spans stored and the seconds that took.
 */
async function blast(url: string, batches: Batch[], until?: number): Promise<{ spans: number; seconds: number }> {
  let next = 0;
  let spans = 0;
  const stored0 = await insertedRows(url);
  const t0 = performance.now();
  const sender = async () => {
    for (;;) {
      const i = next++;
      if (until === undefined ? i >= batches.length : performance.now() >= until) return;
      const b = batches[i % batches.length];
      if (b === undefined) return;
      await send(url, b);
      spans += b.spans;
    }
  };
  await Promise.all(Array.from({ length: SENDERS }, sender));
  while ((await insertedRows(url)) - stored0 < spans) await new Promise((r) => setTimeout(r, 20));
  return { spans, seconds: (performance.now() - t0) / 1000 };
}

async function loopDelayP99(gateway: string): Promise<number> {
  const res = await request(`${gateway}/metrics`);
  const text = await res.body.text();
  const m = /^nodejs_eventloop_delay_p99(?:_seconds)?(?:\{[^}]*\})? ([\d.e+-]+)/m.exec(text);
  if (m?.[1] === undefined) throw new Error('the gateway exposes no nodejs_eventloop_delay_p99 gauge');
  return Number(m[1]) * 1000;
}

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  process.stderr.write(`bench ingest: encoding ${BATCHES} OTLP batches of ${PER_BATCH} spans…\n`);
  const batches = spanBatches(BATCHES, PER_BATCH);
  const upstream = await startUpstream();
  const collector = await startCollector(dir, upstream.url, SERVER_CPU);
  process.stderr.write('bench ingest: warming the collector…\n');
  await blast(collector.url, batches.slice(0, 20));
  const rates: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const c0 = cpuMs(collector.pid);
    const r = await blast(collector.url, batches);
    cpu.push((cpuMs(collector.pid) - c0) / (r.spans / 1000));
    rates.push(r.spans / r.seconds);
    process.stderr.write(`bench ingest: run ${i + 1}/${REPEATS}: ${r.spans} spans in ${r.seconds.toFixed(2)} s\n`);
  }

  const port = Number(new URL(collector.url).port);
  const gateway = await startGateway(dir, upstream.url, { telemetry: true, collectorPort: port, cpu: LOAD_CPU });
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }] });
  const phase = async (withBlast: boolean) => {
    await loopDelayP99(gateway.url);
    const until = performance.now() + PHASE_S * 1000;
    const [load, ingest] = await Promise.all([runLoad({ url: gateway.url, path: '/v1/chat/completions', body, connections: 4, seconds: PHASE_S }), withBlast ? blast(collector.url, batches, until) : Promise.resolve(undefined)]);
    return { lag: await loopDelayP99(gateway.url), p50: quantile(load.latency, 0.5), p99: quantile(load.latency, 0.99), rps: load.rps, spansPerS: ingest ? ingest.spans / ingest.seconds : 0 };
  };
  await runLoad({ url: gateway.url, path: '/v1/chat/completions', body, connections: 4, seconds: 3 });
  const quiet = [] as Awaited<ReturnType<typeof phase>>[];
  const busy = [] as Awaited<ReturnType<typeof phase>>[];
  for (let i = 0; i < REPEATS; i++) {
    process.stderr.write(`bench ingest: gateway beside the collector, run ${i + 1}/${REPEATS}\n`);
    quiet.push(await phase(false));
    busy.push(await phase(true));
  }
  for (const p of [gateway, collector, upstream]) await p.stop();

  const row = (name: string, xs: typeof quiet) => [name, medianRange(xs.map((x) => x.rps), 0), medianRange(xs.map((x) => x.p50)), medianRange(xs.map((x) => x.p99)), medianRange(xs.map((x) => x.lag)), xs[0]?.spansPerS ? medianRange(xs.map((x) => x.spansPerS), 0) : '—'];
  process.stdout.write(
    [
      '## Collector ingest (`npm run bench:ingest`)',
      '',
      machineLine(),
      '',
      `${BATCHES} OTLP/protobuf batches of ${PER_BATCH} gateway spans, ${SENDERS} senders, timed until the collector reports every span inserted into embedded ClickHouse (views included); collector and its ClickHouse threads on one core. ${REPEATS} runs, median (min–max).`,
      '',
      table(['spans/s stored', 'collector CPU ms per 1000 spans'], [[medianRange(rates, 0), medianRange(cpu, 1)]]),
      '',
      `A gateway with full telemetry to the same collector, on the other core with the load generator, 4 connections, ${PHASE_S} s per phase; event-loop delay p99 read from its /metrics (nodejs.eventloop.delay.p99, since the previous reading).`,
      '',
      table(['phase', 'gateway req/s', 'p50 ms', 'p99 ms', 'event-loop delay p99 ms', 'spans/s stored meanwhile'], [row('collector idle but for the gateway', quiet), row('collector ingesting a blast', busy)]),
      '',
      `Target ≥ 20,000 spans/s: ${median(rates) >= 20_000 ? 'met' : 'not met'}.`,
      '',
    ].join('\n'),
  );
}

await main();
