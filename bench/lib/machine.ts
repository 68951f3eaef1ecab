import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { pinning, root } from './proc.js';

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** The line every bench prints above its table: when, on what, with which versions. */
export function machineLine(): string {
  const cpu = cpus();
  return [
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'}`,
    `${Math.round(totalmem() / 2 ** 30)} GiB`,
    `Linux ${release()}`,
    `Node ${process.version}`,
    `Keel ${version('../')}@${commit()}`,
    `chdb ${version('chdb')}`,
    `@portkey-ai/gateway ${version('@portkey-ai/gateway')} (@hono/node-server ${version('@hono/node-server')})`,
    pinning,
  ].join(' · ');
}
