import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * `npm test` on a fresh machine: bin/system-deps.js installs the Debian packages the tests
 * need when it can (root, apt), and otherwise fails at once naming them. Run here as an
 * unprivileged user (setpriv) with a PATH that lacks the commands, so nothing is installed.
 */
const script = join(resolve(import.meta.dirname, '../..'), 'bin', 'system-deps.js');

function runWithout(commands: 'none' | 'all'): { status: number | null; stderr: string } {
  const bin = mkdtempSync(join(tmpdir(), 'keel-path-'));
  chmodSync(bin, 0o755);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  if (commands === 'all') for (const c of ['prometheus-alertmanager', 'chromium', 'redis-server']) symlinkSync('/bin/true', join(bin, c));
  const r = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', join(bin, 'node'), script], { env: { PATH: bin }, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe.runIf(existsSync('/usr/bin/setpriv') && process.getuid?.() === 0)('npm test system packages', () => {
  it('not root and the packages missing: fails at once, naming each package and the command to install them', () => {
    const r = runWithout('none');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs these Debian packages: prometheus-alertmanager chromium redis-server\./);
    expect(r.stderr).toMatch(/apt-get install -y prometheus-alertmanager chromium redis-server/);
  });

  it('everything present: nothing to do', () => {
    expect(runWithout('all')).toEqual({ status: 0, stderr: '' });
  });
});
