import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusView } from '../../slo/index.js';
import { freePort } from '../helpers/ports.js';
import { startKeel, type KeelProcess } from '../helpers/procs.js';

interface Shape {
  objective: number;
  receivers?: string[];
  export?: string[];
  /** Raw text replacing the slo block (a broken file). */
  slo?: string;
}

/** One keel.yaml: a route, one SLO on it, the receivers and export endpoints given. */
function yaml(collectorPort: number, s: Shape): string {
  const receivers = (s.receivers ?? []).map((url) => `      - { type: webhook, url: "${url}" }`);
  const exports = (s.export ?? []).map((url) => `    - { endpoint: "${url}" }`);
  return [
    'providers:',
    '  sim: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", auth: none }',
    'routes:',
    '  chat: { targets: [{ provider: sim, model: m }] }',
    'server: { heap_growth_percent: 50 }',
    'telemetry:',
    `  collector: { port: ${collectorPort} }`,
    ...(exports.length > 0 ? ['  export:', ...exports] : []),
    s.slo ??
      [
        'slo:',
        '  objectives:',
        `    - { name: chat-availability, objective: ${s.objective}, sli: availability, scope: { route: chat } }`,
        '  alerting:',
        receivers.length > 0 ? '    receivers:' : '    receivers: []',
        ...receivers,
      ].join('\n'),
    '',
  ].join('\n');
}

/** Replaces a file the way editors and ConfigMap updates do: a new file renamed over the old. */
function replace(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('keel collector reloads slo:, routes and alerting (a real process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-collector-reload-'));
  const file = join(dir, 'keel.yaml');
  // The config is a symlink into another folder (a ConfigMap's shape): edits there make no
  // event in `dir`, so only SIGHUP can pick them up.
  const real = join(dir, 'mounted', 'keel.yaml');
  let port = 0;
  let collector: KeelProcess;
  let sloUrl = '';
  const status = async () => (await (await fetch(`${sloUrl}/api/status`)).json()) as StatusView;
  const objectiveOf = (v: StatusView) => v.slos.find((s) => s.name === 'chat-availability')?.objective;

  beforeAll(async () => {
    port = await freePort();
    mkdirSync(join(dir, 'mounted'));
    writeFileSync(real, yaml(port, { objective: 99 }));
    symlinkSync(real, file);
    collector = await startKeel(['collector', '--config', file, '--slo-port', '0'], dir, /status page on (http:\/\/\S+)\//);
    sloUrl = collector.url;
  }, 120_000);
  afterAll(async () => {
    await collector.stop();
  });

  it('starts at config version 1 with the objective in the file', async () => {
    const v = await until('a first evaluation', async () => {
      const s = await status();
      return s.slos.length > 0 ? s : undefined;
    });
    expect(v.configVersion).toBe(1);
    expect(objectiveOf(v)).toBe(99);
    // server.heap_growth_percent reaches the collector's process too (cli/heap.ts).
    expect(collector.output()).toContain('keel collector: heap growth bounded to 50 % past the live set');
  });

  it('SIGHUP reloads: a new objective and a receiver are in force within a second or two', async () => {
    writeFileSync(real, yaml(port, { objective: 99.5, receivers: ['http://127.0.0.1:9/hook'] }));
    // No file event reached the watched folder: nothing changes until the signal.
    await new Promise((r) => setTimeout(r, 400));
    expect((await status()).configVersion).toBe(1);
    const sent = Date.now();
    collector.child.kill('SIGHUP');
    const v = await until('version 2 on /api/status', async () => {
      const s = await status();
      return s.configVersion === 2 && objectiveOf(s) === 99.5 ? s : undefined;
    });
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(v.slos).toHaveLength(1);
    expect(collector.output()).toContain('keel collector: config reload: version 2 (slo: 1 objective, 1 route, 1 receiver)');
    expect(collector.alive()).toBe(true);
  });

  it('a changed file reloads on its own (renamed over, as editors do)', async () => {
    const written = Date.now();
    replace(file, yaml(port, { objective: 99.9, receivers: ['http://127.0.0.1:9/hook', 'http://127.0.0.1:9/other'] }));
    await until('version 3 on /api/status', async () => {
      const s = await status();
      return s.configVersion === 3 && objectiveOf(s) === 99.9 ? s : undefined;
    });
    expect(Date.now() - written).toBeLessThan(2000);
    expect(collector.output()).toContain('config reload: version 3 (slo: 1 objective, 1 route, 2 receivers)');
  });

  it('a broken file keeps the running version, and the log says where and why', async () => {
    replace(file, yaml(port, { objective: 150 }));
    const line = await until('the rejection in the log', () => Promise.resolve(/config reload rejected, keeping version 3: .*$/m.exec(collector.output())?.[0]));
    expect(line).toMatch(/keel\.yaml:\d+:\d+: slo\.objectives\[0\]\.objective: /);
    const v = await status();
    expect(v.configVersion).toBe(3);
    expect(objectiveOf(v)).toBe(99.9);
    expect(collector.alive()).toBe(true);
  });

  it('a change only a restart applies says so, and the rest still reloads', async () => {
    const other = await freePort();
    replace(file, yaml(other, { objective: 99.95 }));
    await until('version 4 and its objective', async () => {
      const s = await status();
      return s.configVersion === 4 && objectiveOf(s) === 99.95 ? true : undefined;
    });
    expect(collector.output()).toContain('config reload: telemetry.collector.port changed: restart Keel for it to take effect');
    expect(collector.output().match(/restart Keel/g)).toHaveLength(1);
  });
});

describe('keel gateway: telemetry.export is read at start only', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-gateway-reload-'));
  const file = join(dir, 'keel.yaml');
  let gateway: KeelProcess;
  let port = 0;
  beforeAll(async () => {
    port = await freePort();
    writeFileSync(file, yaml(port, { objective: 99 }));
    gateway = await startKeel(['gateway', '--config', file, '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  }, 60_000);
  afterAll(async () => {
    await gateway.stop();
  });

  it('a reload that changes the export destinations says plainly that a restart is needed', async () => {
    replace(file, yaml(port, { objective: 99, export: ['http://127.0.0.1:9'] }));
    await until('the reload line', () => Promise.resolve(/config reload: version 2/.test(gateway.output()) ? true : undefined));
    expect(gateway.output()).toContain('config reload: telemetry.export changed: restart Keel for it to take effect');
    // Only that: the objective did not change, nor anything else read at start.
    expect(gateway.output().match(/restart Keel/g)).toHaveLength(1);
  });
});
