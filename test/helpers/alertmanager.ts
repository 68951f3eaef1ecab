import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/** A real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on 127.0.0.1, as shared/reference/test-infra.md describes. */
export interface Alertmanager {
  url: string;
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; status: { state: string } }[]>;
  stop(): Promise<void>;
}

const BINARIES = ['prometheus-alertmanager', 'alertmanager'];

function binary(): string {
  for (const b of BINARIES) if (spawnSync('sh', ['-c', `command -v ${b}`]).status === 0) return b;
  throw new Error('Prometheus Alertmanager is not installed: install the Debian package prometheus-alertmanager (.ci/run does this when it is missing).');
}

export async function startAlertmanager(): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-am-'));
  writeFileSync(join(dir, 'am.yml'), "route: { receiver: 'null' }\nreceivers: [{ name: 'null' }]\n");
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary(),
    [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error('Alertmanager did not become ready in 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    alerts: async () => (await (await fetch(`${url}/api/v2/alerts`)).json()) as Awaited<ReturnType<Alertmanager['alerts']>>,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
