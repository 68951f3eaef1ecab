import { col, runGrid, type Measured, type Target } from './lib/cells.js';
import { MODELS, startGateway, startOtlpSink, startUpstream, tempDir } from './lib/fleet.js';
import { machineLine } from './lib/machine.js';
import { pinSelf, type Proc } from './lib/proc.js';
import { median, table } from './lib/stats.js';

/**
 * What answer guardrails cost a stream (issue 15 §4): the same 50-token stream (5 ms between
 * tokens) through a gateway with a secrets-block and a PII-redact rule on the answer, scanned
 * through the window that spans chunk boundaries, against the same gateway without them, in one
 * run, interleaved on the pinned server core. Added time to first token and total time.
 * Usage: npm run bench:guardrail-stream  (BENCH_SECONDS, BENCH_REPEATS)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
const body = (model: string) => () => JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] });

async function main(): Promise<void> {
  pinSelf();
  const procs: Proc[] = [];
  const dir = tempDir();
  const upstream = await startUpstream();
  const sink = await startOtlpSink();
  procs.push(upstream, sink);
  const collectorPort = Number(new URL(sink.url).port);
  const plain = await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'plain.yaml' });
  const guarded = await startGateway(dir, upstream.url, { telemetry: true, collectorPort, name: 'guarded.yaml', guardStream: true });
  procs.push(plain, guarded);
  const targets: Target[] = [
    { name: 'direct', url: upstream.url, body: body(MODELS.stream), pids: [], warmS: 5 },
    { name: 'no guardrails', url: plain.url, body: body('stream'), pids: [plain.pid], warmS: 15 },
    { name: 'answer guardrails (secrets block, PII redact)', url: guarded.url, body: body('stream'), pids: [guarded.pid], warmS: 15 },
  ];
  const grid = await runGrid('bench guardrail-stream', targets, { path: '/v1/chat/completions', stream: true, concurrency: [1, 16], repeats: REPEATS, seconds: SECONDS });
  for (const p of procs.reverse()) await p.stop();
  const rows: string[][] = [];
  for (const [c, byTarget] of grid.results) {
    const base = byTarget.get('no guardrails') ?? [];
    const g = byTarget.get(targets[2]?.name ?? '') ?? [];
    const paired = (f: (m: Measured) => number) => col(g, f, 3, base);
    rows.push([String(c), col(base, (m) => m.ttft50, 2), col(g, (m) => m.ttft50, 2), paired((m) => m.ttft50), paired((m) => m.ttft99), paired((m) => m.p50), col(g, (m) => m.cpuPerReq, 3, base)]);
  }
  const c1 = grid.results.get(1);
  const added = median((c1?.get(targets[2]?.name ?? '') ?? []).map((m, i) => m.ttft50 - (c1?.get('no guardrails')?.[i]?.ttft50 ?? m.ttft50)));
  process.stdout.write(
    [
      '## Streaming guardrails: added latency, same run (`npm run bench:guardrail-stream`)',
      '',
      machineLine(),
      '',
      `50-token streams (5 ms between tokens) from the lean stand-in, two gateways with full telemetry to the discarding sink, interleaved, ${REPEATS} × ${SECONDS} s per cell. The guarded one scans every answer with a secrets rule (block) and an email/card/phone rule (redact), through the window that holds back text only while it could still start a match (at most 256 characters). Median (min–max), ms; "added" pairs the two gateways repeat by repeat.`,
      '',
      table(['conc.', 'TTFT p50, no guardrails', 'TTFT p50, guarded', 'added TTFT p50', 'added TTFT p99', 'added total p50', 'added CPU ms/stream'], rows),
      '',
      `At concurrency 1 the answer guardrails add ${added.toFixed(3)} ms to the time to first token (p50).`,
      '',
    ].join('\n'),
  );
}

await main();
