import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/proc.js';

/**
 * `npm run bench`: every bench in turn, then bench/RESULTS.md rewritten from their tables
 * and the hand-written reading in bench/reading.md. Each bench prints progress on stderr
 * and its markdown section on stdout. BENCH_ONLY=overhead,ingest runs a subset (the file
 * then keeps only those sections: run them all before committing RESULTS.md).
 */
const BENCHES = [
  ['overhead', 'overhead.js'],
  ['streaming', 'streaming.js'],
  ['failover', 'failover.js'],
  ['ingest', 'ingest.js'],
  ['slo', 'slo-eval.js'],
] as const;

function run(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'bench', script)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} exited with ${String(code)}`))));
  });
}

async function main(): Promise<void> {
  const only = process.env.BENCH_ONLY?.split(',');
  const sections: string[] = [];
  const started = Date.now();
  for (const [name, script] of BENCHES) {
    if (only !== undefined && !only.includes(name)) continue;
    process.stderr.write(`\n=== bench ${name} (${Math.round((Date.now() - started) / 1000)} s in) ===\n`);
    sections.push((await run(script)).trim());
  }
  const readingPath = join(root, 'bench', 'reading.md');
  const reading = existsSync(readingPath) ? readFileSync(readingPath, 'utf8').trim() : '';
  const file = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` (${Math.round((Date.now() - started) / 60_000)} min). Each section names its own command, machine, date and versions. The reading below the tables is kept by hand in \`bench/reading.md\`.`,
    '',
    ...sections.flatMap((s) => [s, '']),
    reading,
    '',
  ].join('\n');
  writeFileSync(join(root, 'bench', 'RESULTS.md'), file);
  process.stderr.write(`\nbench: wrote bench/RESULTS.md (${sections.length} sections)\n`);
}

await main();
