import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { freePort } from '../helpers/ports.js';
import { keelBin, startKeel, type KeelProcess } from '../helpers/procs.js';

/** SIGTERM and the milliseconds until the process is gone. */
async function term(p: KeelProcess): Promise<{ code: number | null; ms: number }> {
  const exited = once(p.child, 'exit') as Promise<[number | null]>;
  const started = Date.now();
  p.child.kill('SIGTERM');
  const [code] = await exited;
  return { code, ms: Date.now() - started };
}

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.close();
});

async function configDir(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-shutdown-c-'));
  writeFileSync(
    join(dir, 'keel.yaml'),
    [
      'providers:',
      `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
      'routes:',
      '  chat: { targets: [{ provider: sim, model: sim-model }] }',
      'telemetry:',
      `  collector: { port: ${await freePort()} }`,
      `slo: { port: ${await freePort()} }`,
      '',
    ].join('\n'),
  );
  return dir;
}

/** One OTLP/JSON export with one span of this trace. */
function exportOf(traceId: string): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const span = { traceId, spanId: traceId.slice(0, 16), name: 'chat chat', kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n), attributes: [] };
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'keel' } }] }, scopeSpans: [{ spans: [span] }] }] });
}

describe('keel collector on SIGTERM', () => {
  it('exits at once with code 0, and the batch it accepted last is in ClickHouse after a restart (inserted, or replayed from the spool)', async () => {
    const dir = await configDir();
    const first = await startKeel(['collector'], dir);
    const traceId = 'a1'.repeat(16);
    const res = await fetch(`${first.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: exportOf(traceId) });
    expect(res.status).toBe(200);
    // Signalled right after the 200: the insert has not had its flush_ms (1 s) yet.
    const { code, ms } = await term(first);
    expect(code).toBe(0);
    // Its bound is telemetry.flush_timeout_ms (5 s); idle on this machine it takes ~0.1 s, more under a loaded test run.
    expect(ms).toBeLessThan(5_000);
    expect(first.output()).toMatch(/flushed in \d+ ms\n[\s\S]*stopped/);
    const again = await startKeel(['collector'], dir);
    try {
      const count = () => Number(/^(\d+)$/m.exec(spawnSync(process.execPath, [keelBin, 'query', `SELECT count() FROM otel_traces WHERE TraceId = '${traceId}'`], { cwd: dir, encoding: 'utf8' }).stdout)?.[1] ?? -1);
      await expect.poll(count, { timeout: 10_000, interval: 300 }).toBe(1);
    } finally {
      expect((await term(again)).code).toBe(0);
    }
  }, 60_000);
});

describe('keel start on SIGTERM', () => {
  it('stops the gateway first (drained, telemetry flushed into the collector), the collector last, and exits 0', async () => {
    const dir = await configDir();
    const keel = await startKeel(['start', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
    const client = new OpenAI({ baseURL: `${keel.url}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] });
    const { code, ms } = await term(keel);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    const out = keel.output();
    const at = (pattern: RegExp) => out.search(pattern);
    // The collector was still up when the gateway flushed into it: nothing dropped.
    expect(out).toMatch(/keel: telemetry flushed in \d+ ms/);
    expect(at(/keel: gateway stopped in/)).toBeGreaterThan(at(/keel: drained in/));
    expect(at(/keel collector: flushing and stopping/)).toBeGreaterThan(at(/keel: gateway stopped in/));
    expect(at(/keel collector: stopped/)).toBeGreaterThan(at(/keel collector: flushing and stopping/));
    expect(at(/keel: stopped/)).toBeGreaterThan(at(/keel collector: stopped/));
  }, 60_000);
});
