// Builds dist/ when it is missing or older than any TypeScript source, so `npm start`
// and `keel` work straight after `npm ci` or a `git pull`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRS = ['gateway', 'config', 'simulator', 'cli', 'collector', 'store', 'slo', 'bench'];
const entry = join(root, 'dist', 'cli', 'main.js');
// tsc --incremental rewrites only the files that changed, so entry's mtime says nothing: a stamp does.
const stamp = join(root, 'dist', '.built');

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export async function ensureBuilt() {
  const built = existsSync(entry) && existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  const sources = Math.max(...SOURCE_DIRS.filter((d) => existsSync(join(root, d))).map((d) => newestMtime(join(root, d))));
  if (built >= sources) return;
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    console.error('keel: dist/ is missing or stale and TypeScript is not installed. Run `npm ci` in the Keel folder first.');
    process.exit(1);
  }
  process.stderr.write('keel: building (tsc)… ');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) {
    process.stderr.write('failed.\n' + result.stdout + result.stderr + '\nFix the errors above, then run the command again.\n');
    process.exit(1);
  }
  writeFileSync(stamp, new Date().toISOString());
  process.stderr.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
