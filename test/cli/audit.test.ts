import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../config/secret.js';
import { freePort } from '../helpers/ports.js';
import { keelBin, startKeel, type KeelProcess } from '../helpers/procs.js';

const run = promisify(execFile);

const SEARCH_KEY = 'search-app-key-7f3a9c2e1b8d4f6a';
const OPS_KEY = 'ops-app-key-2d9e8b7c6a5f4e3d2c1b';

interface Shape {
  opsDisabled?: boolean;
  searchBudget?: number;
}

/** keel.yaml with two client keys: one given as itself, one as its SHA-256 only. */
function yaml(ports: { collector: number; slo: number }, s: Shape = {}): string {
  return [
    'providers:',
    '  sim: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", auth: none }',
    'routes:',
    '  chat: { targets: [{ provider: sim, model: m }] }',
    'auth:',
    '  keys:',
    `    - { id: search-app, key: ${SEARCH_KEY}, team: search, budgets: [{ usd: ${s.searchBudget ?? 10} }] }`,
    `    - { id: ops-app, key_sha256: ${hashKey(OPS_KEY)}, disabled: ${s.opsDisabled ?? false} }`,
    'telemetry:',
    `  collector: { port: ${ports.collector}, flush_ms: 50 }`,
    `slo: { port: ${ports.slo}, interval_s: 600 }`,
    '',
  ].join('\n');
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The audit log end to end, as users run it: `keel start` (gateway and its child collector),
 * config edits picked up by SIGHUP and by the file watcher, rows read back with `keel query audit`.
 */
describe('audit log: config loads and reloads, key changes, with who did it (real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-audit-'));
  const file = join(dir, 'keel.yaml');
  // A symlink into another folder (a ConfigMap's shape): edits there reach the gateway only by SIGHUP.
  const real = join(dir, 'mounted', 'keel.yaml');
  let ports = { collector: 0, slo: 0 };
  let keel: KeelProcess;
  const query = async (...args: string[]) => (await run(process.execPath, [keelBin, 'query', ...args], { cwd: dir })).stdout;
  /** `keel query audit` lines of one event from one source, once there are `n`. */
  const rowsOf = (event: string, source: string, n = 1) =>
    until(`${n} ${event} row(s) from the ${source}`, async () => {
      const lines = (await query('audit', '500').catch(() => '')).split('\n').filter((l) => new RegExp(`\\s${source}\\s.*\\s${event}\\s`).test(l));
      return lines.length >= n ? lines : undefined;
    });

  beforeAll(async () => {
    ports = { collector: await freePort(), slo: await freePort() };
    mkdirSync(join(dir, 'mounted'));
    writeFileSync(real, yaml(ports));
    symlinkSync(real, file);
    keel = await startKeel(['start', '--config', file, '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  }, 60_000);
  afterAll(async () => {
    await keel.stop();
  });

  it('start: a config_loaded row from the gateway and one from the collector, actor startup', async () => {
    const [gateway] = await rowsOf('config_loaded', 'gateway');
    const [collector] = await rowsOf('config_loaded', 'collector');
    for (const line of [gateway, collector]) expect(line).toMatch(/config_loaded\s+\S+keel\.yaml\s+startup\s+1\s+[0-9a-f]{16}\s/);
  });

  it("SIGHUP: the gateway's config_reloaded and budget_changed rows name SIGHUP", async () => {
    writeFileSync(real, yaml(ports, { searchBudget: 25 }));
    keel.child.kill('SIGHUP');
    const [reloaded] = await rowsOf('config_reloaded', 'gateway');
    expect(reloaded).toMatch(/\sSIGHUP\s+2\s/);
    const [budget] = await rowsOf('budget_changed', 'gateway');
    expect(budget).toMatch(/budget_changed\s+key:search-app\s+SIGHUP\s+2\s.*"usd":10.*"usd":25/);
  });

  it('an edited file disables a key: config_reloaded and key_disabled rows, actor file change', async () => {
    // Replaced the way editors and ConfigMap updates do: a new file renamed over the old.
    writeFileSync(`${file}.tmp`, yaml(ports, { searchBudget: 25, opsDisabled: true }));
    renameSync(`${file}.tmp`, file);
    const [disabled] = await rowsOf('key_disabled', 'gateway');
    expect(disabled).toMatch(/key_disabled\s+ops-app\s+file change\s+3\s/);
    const reloads = await rowsOf('config_reloaded', 'gateway', 2);
    expect(reloads[0]).toMatch(/\sfile change\s+3\s/);
    // The collector reloads the same file on its own (it saw version 1 → 2 by the file watcher here).
    const [collector] = await rowsOf('config_reloaded', 'collector');
    expect(collector).toMatch(/\sfile change\s/);
  });

  it('neither key, nor the hash of either, is anywhere in the table', async () => {
    const table = await query('audit', '1000');
    expect(table).toContain('key_disabled');
    for (const secret of [SEARCH_KEY, OPS_KEY, hashKey(SEARCH_KEY), hashKey(OPS_KEY)]) {
      expect(table).not.toContain(secret);
      // Every column, in full (the text table is not cut, but a query is the proof).
      const count = await query(`SELECT count() AS n FROM audit_log WHERE position(concat(toString(ts), source, instance, event, subject, detail, toString(config_version), config_hash, actor), '${secret}') > 0`);
      expect(count).toMatch(/^n\n─+\n0\n/);
    }
  });
});
