import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/proc.js';

/**
 * `npm run bench`: every bench in turn; each prints progress on stderr and its markdown
 * section on stdout, kept in bench/results/<name>.md. bench/RESULTS.md is then assembled
 * from those sections and the hand-written reading in bench/reading.md.
 * BENCH_ONLY=overhead,ingest reruns a subset (the other sections stay as last measured);
 * BENCH_ONLY=none only reassembles RESULTS.md.
 */
const BENCHES = [
  ['overhead', 'overhead.js'],
  ['streaming', 'streaming.js'],
  ['failover', 'failover.js'],
  ['ingest', 'ingest.js'],
  ['slo', 'slo-eval.js'],
  ['state', 'state.js'],
  ['governance', 'governance.js'],
  ['guardrail-stream', 'guardrail-stream.js'],
  ['cache', 'cache.js'],
  ['cache-index', 'cache-index.js'],
  ['cache-store', 'cache-store.js'],
] as const;

/** Run only when named in BENCH_ONLY (the before/after bench needs BENCH_BASELINE; the stage breakdown repeats the overhead bench's cells; the soak takes 10 minutes), kept in RESULTS.md once measured. */
const ON_REQUEST = [['ab', 'ab.js'], ['stages-cost', 'stages-cost.js'], ['soak', 'soak.js']] as const;

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
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  for (const [name, script] of [...BENCHES, ...ON_REQUEST]) {
    if (only !== undefined ? !only.includes(name) : ON_REQUEST.some(([n]) => n === name)) continue;
    process.stderr.write(`\n=== bench ${name} (${Math.round((Date.now() - started) / 1000)} s in) ===\n`);
    writeFileSync(join(dir, `${name}.md`), `${(await run(script)).trim()}\n`);
  }
  const sections = [...BENCHES, ...ON_REQUEST].map(([name]) => join(dir, `${name}.md`)).filter((f) => existsSync(f)).map((f) => readFileSync(f, 'utf8').trim());
  const readingPath = join(root, 'bench', 'reading.md');
  const reading = existsSync(readingPath) ? readFileSync(readingPath, 'utf8').trim() : '';
  const file = [
    '# Benchmark results',
    '',
    'Assembled by `npm run bench` from `bench/results/*.md` (each section names its command, machine, date and versions). The reading after the tables is kept by hand in `bench/reading.md`.',
    '',
    ...sections.flatMap((s) => [s, '']),
    reading,
    '',
  ].join('\n');
  writeFileSync(join(root, 'bench', 'RESULTS.md'), file);
  process.stderr.write(`\nbench: wrote bench/RESULTS.md (${sections.length} sections)\n`);
}

await main();
