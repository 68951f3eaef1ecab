import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { LOAD_CPU, SERVER_CPU, cpuMs, peakWhile, pinSelf } from './lib/proc.js';
import { startCollector, startGateway, startUpstream, tempDir } from './lib/fleet.js';
import { runLoad, quantile } from './lib/load.js';
import { machineLine } from './lib/machine.js';
import { spanBatches } from './lib/spans.js';
import { median, medianRange, table } from './lib/stats.js';
import { measureVisibility } from './lib/visibility.js';
import { blast, refusals, sendBatch } from './lib/ingest-load.js';

/**
 * Collector ingest: OTLP protobuf span batches (the gateway's own span shapes) sent to a
 * `keel collector` pinned to one core; the clock stops when the collector reports every
 * span inserted into embedded ClickHouse (its /healthz insertedRows), not at the 200s
 * (which mean "on disk").
 * The collector's RSS and thread count are sampled throughout (their peaks against issue 18's
 * 400 MB). Then visibility: while a blast keeps the collector at its ceiling, probe requests with
 * known ids are sent every VIS_EVERY_MS and llm_requests is polled until each is there
 * (BENCH_VIS_PACE: the paced cell's share of the ceiling, default 0.9).
 * Then the event-loop delay of a gateway serving traffic beside it, with and without the blast.
 * Usage: npm run bench:ingest
 */
const REPEATS = 3;
const SENDERS = 4;
const PER_BATCH = 500;
const BATCHES = Number(process.env.BENCH_INGEST_BATCHES ?? 200);
const PHASE_S = Number(process.env.BENCH_SECONDS ?? 8);
const VIS_S = Number(process.env.BENCH_VIS_SECONDS ?? 10);
const VIS_EVERY_MS = 200;
/** The paced visibility cell sends this share of the rate measured at the ceiling. */
const VIS_PACE = Number(process.env.BENCH_VIS_PACE ?? 0.9);
/** Issue 18's collector targets. */
const TARGET_SPANS_S = 30_000;
const TARGET_RSS_MB = 400;
const TARGET_VISIBLE_S = 2;
const MB_PER_MIB = 1.048576;

async function loopDelayP99(gateway: string): Promise<number> {
  const res = await request(`${gateway}/metrics`);
  const text = await res.body.text();
  const m = /^nodejs_eventloop_delay_p99(?:_seconds)?(?:\{[^}]*\})? ([\d.e+-]+)/m.exec(text);
  if (m?.[1] === undefined) throw new Error('the gateway exposes no nodejs_eventloop_delay_p99 gauge');
  return Number(m[1]) * 1000;
}

const met = (ok: boolean) => (ok ? 'met' : 'not met');

/** One line per issue 18 collector target. */
interface VisCell {
  rate: number;
  lat: Float64Array;
  missing: number;
}

const visText = (v: VisCell) => `p99 ${quantile(v.lat, 0.99).toFixed(2)} s, max ${Math.max(...v.lat).toFixed(2)} s${v.missing > 0 ? `, ${v.missing} never seen` : ''}, at ${v.rate.toFixed(0)} spans/s`;

function verdicts(rate: number, rssMB: number, anonMB: number, threads: number, paced: VisCell, ceiling: VisCell): string {
  const ok = (v: VisCell) => v.missing === 0 && v.lat.length > 0 && quantile(v.lat, 0.99) <= TARGET_VISIBLE_S;
  return [
    `- Target ≥ ${TARGET_SPANS_S.toLocaleString('en')} spans/s stored on one core (views included): ${met(rate >= TARGET_SPANS_S)} (median ${rate.toFixed(0)}).`,
    `- Target collector RSS ≤ ${TARGET_RSS_MB} MB at its ingest ceiling: ${met(rssMB <= TARGET_RSS_MB)} (peak ${rssMB.toFixed(0)} MB, of which ${anonMB.toFixed(0)} MB anonymous; ${threads} threads).`,
    `- Target a request's row queryable in llm_requests within ${TARGET_VISIBLE_S} s at that rate: ${met(ok(paced))} paced at ${Math.round(VIS_PACE * 100)} % of the ceiling (${visText(paced)}); ${met(ok(ceiling))} at the ceiling itself (${visText(ceiling)}).`,
  ].join('\n');
}

async function main(): Promise<void> {
  pinSelf();
  const dir = tempDir();
  process.stderr.write(`bench ingest: encoding ${BATCHES} OTLP batches of ${PER_BATCH} spans…\n`);
  const batches = spanBatches(BATCHES, PER_BATCH);
  const upstream = await startUpstream();
  const collector = await startCollector(dir, upstream.url, SERVER_CPU);
  process.stderr.write('bench ingest: warming the collector…\n');
  await blast(collector.url, batches.slice(0, 20), { senders: SENDERS });
  const rates: number[] = [];
  const cpu: number[] = [];
  const rss: number[] = [];
  const anon: number[] = [];
  const threads: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const c0 = cpuMs(collector.pid);
    const { result: r, rssMiB, anonMiB, threads: t } = await peakWhile(collector.pid, () => blast(collector.url, batches, { senders: SENDERS }));
    cpu.push((cpuMs(collector.pid) - c0) / (r.spans / 1000));
    rates.push(r.spans / r.seconds);
    rss.push(rssMiB * MB_PER_MIB);
    anon.push(anonMiB * MB_PER_MIB);
    threads.push(t);
    process.stderr.write(`bench ingest: run ${i + 1}/${REPEATS}: ${r.spans} spans in ${r.seconds.toFixed(2)} s, RSS peak ${rssMiB.toFixed(0)} MiB, ${t} threads\n`);
  }

  // Visibility twice: at the ceiling (senders as fast as the collector answers: the queue fills to
  // max_queue_rows, and a row waits behind it), and paced at VIS_PACE of the rate just measured.
  const probes = spanBatches(2 * (Math.ceil((VIS_S * 1000) / VIS_EVERY_MS) + 1), 1, 'vis-').map((b) => b.body);
  const half = probes.length / 2;
  const visCell = async (name: string, pace: number | undefined, first: number) => {
    process.stderr.write(`bench ingest: visibility in llm_requests during a ${VIS_S} s blast, ${name}…\n`);
    const until = performance.now() + VIS_S * 1000;
    const v = await peakWhile(collector.pid, () =>
      Promise.all([
        blast(collector.url, batches, { senders: SENDERS, until, pace }),
        measureVisibility({ url: collector.url, dir, probes: probes.slice(first, first + half), first, prefix: 'vis-', everyMs: VIS_EVERY_MS, until, send: (body) => sendBatch(collector.url, { body, spans: 0 }) }),
      ]),
    );
    rss.push(v.rssMiB * MB_PER_MIB);
    anon.push(v.anonMiB * MB_PER_MIB);
    threads.push(v.threads);
    const [b, seen] = v.result;
    return { name, rate: b.spans / b.seconds, lat: Float64Array.from(seen.latencies).sort(), missing: seen.missing, rssMB: v.rssMiB * MB_PER_MIB, anonMB: v.anonMiB * MB_PER_MIB, threads: v.threads };
  };
  const ceiling = await visCell('at the ceiling', undefined, 0);
  const paced = await visCell(`paced at ${Math.round(VIS_PACE * 100)} % of the measured rate`, VIS_PACE * median(rates), half);

  const port = Number(new URL(collector.url).port);
  const gateway = await startGateway(dir, upstream.url, { telemetry: true, collectorPort: port, cpu: LOAD_CPU });
  const body = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }] });
  const phase = async (withBlast: boolean) => {
    await loopDelayP99(gateway.url);
    const until = performance.now() + PHASE_S * 1000;
    const [load, ingest] = await Promise.all([runLoad({ url: gateway.url, path: '/v1/chat/completions', body, connections: 4, seconds: PHASE_S }), withBlast ? blast(collector.url, batches, { senders: SENDERS, until }) : Promise.resolve(undefined)]);
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
      table(['spans/s stored', 'collector CPU ms per 1000 spans', 'collector RSS peak MB', 'of which anonymous MB', 'collector threads peak'], [[medianRange(rates, 0), medianRange(cpu, 1), medianRange(rss.slice(0, REPEATS), 0), medianRange(anon.slice(0, REPEATS), 0), medianRange(threads.slice(0, REPEATS), 0)]]),
      '',
      `Visibility: during a ${VIS_S} s blast, one probe request every ${VIS_EVERY_MS} ms with a known keel.request_id; llm_requests polled through the collector's /query every 100 ms until its row is there (seconds from just before the probe's first POST, 429 retries included; at most 0.1 s late). At the ceiling the senders go as fast as the collector answers, so its queue fills (up to telemetry.collector.max_queue_ms of measured insert work, then senders are refused with 429 and resend) and a row waits behind it; paced, they send ${Math.round(VIS_PACE * 100)} % of the rate measured above.`,
      '',
      table(['blast', 'spans/s stored', 'probes', 'visible p50 s', 'p99 s', 'max s', 'never seen (30 s)', 'collector RSS peak MB', 'of which anonymous MB', 'threads peak'], [ceiling, paced].map((v) => [v.name, v.rate.toFixed(0), String(v.lat.length + v.missing), quantile(v.lat, 0.5).toFixed(2), quantile(v.lat, 0.99).toFixed(2), Math.max(...v.lat).toFixed(2), String(v.missing), v.rssMB.toFixed(0), v.anonMB.toFixed(0), String(v.threads)])),
      '',
      `Exports the collector refused (429/503, resent after 100 ms) over the whole bench: ${refusals.count}.`,
      '',
      `A gateway with full telemetry to the same collector, on the other core with the load generator, 4 connections, ${PHASE_S} s per phase; event-loop delay p99 read from its /metrics (nodejs.eventloop.delay.p99, since the previous reading).`,
      '',
      table(['phase', 'gateway req/s', 'p50 ms', 'p99 ms', 'event-loop delay p99 ms', 'spans/s stored meanwhile'], [row('collector idle but for the gateway', quiet), row('collector ingesting a blast', busy)]),
      '',
      verdicts(median(rates), Math.max(...rss), Math.max(...anon), Math.max(...threads), paced, ceiling),
      '',
    ].join('\n'),
  );
}

await main();
