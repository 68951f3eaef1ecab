import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * Active health checks across a fleet, in the shape users run: two `keel gateway` processes on
 * one real Redis, one `keel simulator`. Each replica would probe the idle target once per
 * interval on its own; with the lease per target and interval, the fleet probes it once.
 */
const INTERVAL_S = 0.2;
const WATCH_MS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Probes this gateway sent, from its own keel.probe.results counter. */
async function probes(g: KeelProcess): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^keel_probe_results_total\{([^}]*)\} (\d+)/gm)) if ((m[1] ?? '').includes('model="idle"')) n += Number(m[2]);
  return n;
}

describe('health checks of two gateways on one Redis (real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fleet-probes-'));
  let redis: TestRedis;
  let sim: KeelProcess;
  let gateways: KeelProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    sim = await startKeel(['simulator', '--port', '0'], dir);
    writeFileSync(
      join(dir, 'keel.yaml'),
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", api_key: "sk-sim", health_check: { interval_s: ${INTERVAL_S}, timeout_ms: 1000 } }`,
        'routes:',
        '  chat: { targets: [{ provider: sim, model: busy }], fallbacks: [{ provider: sim, model: idle }] }',
        'telemetry: { enabled: false }',
        `state: { redis: { url: "${redis.url}", deadline_ms: 250, key_prefix: "fleet-probes-${Date.now()}:" } }`,
        '',
      ].join('\n'),
    );
    gateways = await Promise.all([0, 1].map(() => startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/)));
  }, 120_000);

  afterAll(async () => {
    for (const p of [...gateways, sim]) await p?.stop();
    await redis?.stop();
  });

  it('probes an idle target about once per interval for the whole fleet, not once per replica', async () => {
    // Connected to Redis (a replica starts degraded until its first round trip).
    for (const g of gateways) {
      const state = async () => ((await (await fetch(`${g.url}/readyz`)).json()) as { state: unknown }).state;
      for (let i = 0; i < 50 && JSON.stringify(await state()) !== JSON.stringify({ backend: 'redis', degraded: false }); i++) await sleep(100);
      expect(await state()).toEqual({ backend: 'redis', degraded: false });
    }
    const before = await Promise.all(gateways.map(probes));
    await sleep(WATCH_MS);
    const after = await Promise.all(gateways.map(probes));
    const each = after.map((n, i) => n - (before[i] ?? 0));
    const total = each.reduce((a, b) => a + b, 0);
    const intervals = WATCH_MS / (INTERVAL_S * 1000);
    process.stdout.write(`fleet probes: ${total} in ${intervals} intervals (per gateway ${each.join('/')})\n`);
    // One per interval (timers fire late on a busy machine, never early); two replicas alone would make ~2 × intervals.
    expect(total).toBeGreaterThanOrEqual(intervals * 0.6);
    expect(total).toBeLessThanOrEqual(intervals + 2);
  });
});
