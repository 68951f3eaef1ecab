import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';

/**
 * Proxy overhead: non-streaming chat at concurrency 1, 16 and 64, direct to the simulator
 * and through Keel (telemetry off, then full telemetry to a collector process), in one run.
 * Each cell is warmed, then measured REPEATS times; medians and ranges are reported.
 * Usage: npm run bench:overhead
 */
const root = resolve(import.meta.dirname, '../..');
const keel = join(root, 'bin', 'keel.js');
const REPEATS = 3;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = [1, 16, 64];

function start(args: string[], ready: RegExp, cwd: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [keel, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`keel ${args[0] ?? ''} did not start:\n${out}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        res({ child, url: m[1] });
      }
    });
  });
}

interface Cell {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}

async function load(url: string, connections: number, seconds: number): Promise<Cell> {
  const r = await autocannon({
    url: `${url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hi' }] }),
    connections,
    duration: seconds,
  });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (xs: number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-bench-'));
  const sim = await start(['simulator', '--port', '0'], /listening on (http:\/\/\S+)/, dir);
  const write = (name: string, telemetry: boolean, collectorPort: number) => {
    const path = join(dir, name);
    writeFileSync(
      path,
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
        'routes:',
        '  bench: { targets: [{ provider: sim, model: fast }] }',
        'telemetry:',
        `  enabled: ${telemetry}`,
        `  collector: { port: ${collectorPort}, spool_dir: ${join(dir, 'spool')} }`,
        `  store: { path: ${join(dir, 'data')} }`,
        'slo: { port: 0 }',
        '',
      ].join('\n'),
    );
    return path;
  };
  const collector = await start(['collector', '--config', write('collector.yaml', true, 0), '--slo-port', '0'], /listening on (http:\/\/\S+) \(OTLP/, dir);
  const collectorPort = Number(new URL(collector.url).port);
  const bare = await start(['gateway', '--config', write('bare.yaml', false, collectorPort), '--port', '0'], /gateway listening on (http:\/\/\S+)/, dir);
  const full = await start(['gateway', '--config', write('full.yaml', true, collectorPort), '--port', '0'], /gateway listening on (http:\/\/\S+)/, dir);
  const targets = { direct: `${sim.url}`, 'keel (telemetry off)': bare.url, 'keel (full telemetry)': full.url };
  const rows: string[] = [];
  process.stderr.write(`bench: warming every target for ${SECONDS} s…\n`);
  for (const url of Object.values(targets)) await load(url.replace(/\/v1$/, ''), 16, SECONDS);
  for (const c of CONCURRENCY) {
    const results: Record<string, Cell[]> = {};
    for (let i = 0; i < REPEATS; i++) {
      for (const [name, url] of Object.entries(targets)) {
        process.stderr.write(`bench: concurrency ${c}, ${name}, run ${i + 1}/${REPEATS}\n`);
        (results[name] ??= []).push(await load(url, c, SECONDS));
      }
    }
    const direct = results.direct ?? [];
    for (const [name, cells] of Object.entries(results)) {
      const added = name === 'direct' ? '—' : fmt(cells.map((cell, i) => cell.p50 - (direct[i]?.p50 ?? 0)), 2);
      rows.push(`| ${c} | ${name} | ${fmt(cells.map((x) => x.rps))} | ${fmt(cells.map((x) => x.p50), 2)} | ${fmt(cells.map((x) => x.p90), 2)} | ${fmt(cells.map((x) => x.p99), 2)} | ${added} |`);
    }
  }
  for (const p of [full, bare, collector, sim]) p.child.kill('SIGTERM');
  const table = [
    `Proxy overhead — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    `${REPEATS} runs of ${SECONDS} s per cell after warm-up; median (min–max); latency in ms (autocannon, same process for all targets).`,
    '',
    '| concurrency | target | req/s | p50 | p90 | p99 | added p50 |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  // bench/RESULTS.md is edited by hand from this output, with the reading of the numbers.
}

await main();
