#!/usr/bin/env node
// `npm test` needs a few Debian packages that npm does not bring: Prometheus Alertmanager (alert
// delivery tests), Chromium (status page tests) and Redis (shared-state tests). Present: nothing to do. Missing and run as
// root with apt: one `apt-get update`, then `apt-get install`. Otherwise: fail at once, naming them.
import { spawnSync } from 'node:child_process';

/** [command the tests run, Debian package that provides it] */
const NEEDED = [
  ['prometheus-alertmanager', 'prometheus-alertmanager'],
  ['chromium', 'chromium'],
  ['redis-server', 'redis-server'],
];

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const missing = NEEDED.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
if (missing.length > 0) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !has('apt-get')) {
    process.stderr.write(
      `npm test needs these Debian packages: ${missing.join(' ')}.\n` +
        `Install them (as root): apt-get update && apt-get install -y ${missing.join(' ')}\n`,
    );
    process.exit(1);
  }
  process.stderr.write(`npm test: installing ${missing.join(', ')} (apt-get)…\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  if (!run(['update', '-qq']) || !run(['install', '-y', '-qq', ...missing])) {
    process.stderr.write(`npm test: apt-get could not install ${missing.join(' ')}; install them and run npm test again.\n`);
    process.exit(1);
  }
  const still = NEEDED.filter(([cmd]) => !has(cmd)).map(([, pkg]) => pkg);
  if (still.length > 0) {
    process.stderr.write(`npm test: ${still.join(' ')} installed but not on PATH; check the installation.\n`);
    process.exit(1);
  }
}
