import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakerStates, startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * Issue 14 §2 with the shape users run: three `keel gateway` processes, one real Redis, one
 * `keel simulator`. The primary fails its first DEAD_FOR requests (counted by the simulator,
 * whichever gateway sends them), then answers again. One breaker for the fleet means: it opens
 * after CONSECUTIVE failures summed over the replicas, the dead target then sees one probe per
 * open_s from all three together (so the DEAD_FOR − CONSECUTIVE failing probes take that many
 * open periods), and the probe that succeeds brings every replica back to it.
 */
const CONSECUTIVE = 6;
const FAILING_PROBES = 3;
const DEAD_FOR = CONSECUTIVE + FAILING_PROBES;
const OPEN_S = 2;
const DEAD = `dead;fault=server_error;times=${DEAD_FOR}`;
const ROUTE = 'chat';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metrics(g: KeelProcess): Promise<string> {
  return (await fetch(`${g.url}/metrics`)).text();
}

/** Attempts this gateway sent to the dead target, from its own gen_ai.client.operation.duration count. */
async function deadAttempts(g: KeelProcess): Promise<number> {
  let n = 0;
  for (const m of (await metrics(g)).matchAll(/^gen_ai_client_operation_duration_count\{([^}]*)\} (\d+)/gm)) {
    if ((m[1] ?? '').includes(`gen_ai_request_model="${DEAD}"`)) n += Number(m[2]);
  }
  return n;
}

async function breakerOf(g: KeelProcess): Promise<number | undefined> {
  return (await breakerStates(`${g.url}/metrics`))[`${ROUTE}|sim|${DEAD}`];
}

async function ask(g: KeelProcess): Promise<string> {
  const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: ROUTE, messages: [{ role: 'user', content: 'hi' }] }) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { model: string }).model;
}

describe('one breaker for three gateways (real processes, one Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-shared-breaker-'));
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
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", api_key: "sk-sim" }`,
        'routes:',
        `  ${ROUTE}:`,
        `    targets: [{ provider: sim, model: "${DEAD}" }]`,
        '    fallbacks: [{ provider: sim, model: steady }]',
        '    retries: { attempts: 1 }',
        // Only the streak can open it: the ratio would need a thousand requests.
        `    breaker: { consecutive_failures: ${CONSECUTIVE}, open_s: ${OPEN_S}, min_requests: 1000, window_s: 60 }`,
        'telemetry: { enabled: false }',
        // A deadline for a machine shared with other test files: past 20 ms a busy core would degrade a replica mid-test.
        `state: { redis: { url: "${redis.url}", deadline_ms: 250, key_prefix: "fleet-${Date.now()}:" } }`,
        '',
      ].join('\n'),
    );
    gateways = await Promise.all([0, 1, 2].map(() => startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/)));
  }, 120_000);

  afterAll(async () => {
    for (const p of [...gateways, sim]) await p?.stop();
    await redis?.stop();
  });

  it('opens on failures summed over the fleet, one probe per open_s for all three, back everywhere after the probe that succeeds', async () => {
    for (const g of gateways) expect(((await (await fetch(`${g.url}/readyz`)).json()) as { state: unknown }).state).toEqual({ backend: 'redis', degraded: false });

    // Opening: one request at a time, round robin, each after every view has been refreshed.
    let sent = 0;
    while (sent < 3 * CONSECUTIVE) {
      expect(await ask(gateways[sent % 3] as KeelProcess)).toBe('steady');
      sent++;
      await sleep(400);
      if ((await Promise.all(gateways.map(breakerOf))).every((s) => s === 2)) break;
    }
    const perGateway = await Promise.all(gateways.map(deadAttempts));
    const toOpen = perGateway.reduce((a, b) => a + b, 0);
    const openedAt = Date.now();
    // Per-replica breakers would need CONSECUTIVE each (18 here); one spare for a view refreshed late.
    expect(toOpen).toBeGreaterThanOrEqual(CONSECUTIVE);
    expect(toOpen).toBeLessThanOrEqual(CONSECUTIVE + 1);
    expect(Math.max(...perGateway)).toBeLessThan(CONSECUTIVE);
    expect(await Promise.all(gateways.map(breakerOf))).toEqual([2, 2, 2]);

    // Open window: every gateway asked every 50 ms until each has answered from the primary again.
    const probes: number[] = [];
    let last = toOpen;
    const firstBack: (number | undefined)[] = [undefined, undefined, undefined];
    let done = false;
    const watch = (async () => {
      while (!done) {
        const now = (await Promise.all(gateways.map(deadAttempts))).reduce((a, b) => a + b, 0);
        for (let i = last; i < now; i++) probes.push(Date.now() - openedAt);
        last = now;
        await sleep(50);
      }
    })();
    const drive = gateways.map(async (g, i) => {
      while (!done && Date.now() - openedAt < 30_000) {
        const model = await ask(g);
        if (model === DEAD && firstBack[i] === undefined) firstBack[i] = Date.now() - openedAt;
        if (firstBack.every((t) => t !== undefined)) done = true;
        await sleep(50);
      }
    });
    await Promise.all(drive);
    done = true;
    await watch;

    const back = firstBack.map((t) => t ?? Infinity);
    const closedAt = Math.min(...back);
    // The simulator fails exactly DEAD_FOR attempts: those after the opening ones were probes, and the next one closed it.
    const failingProbes = DEAD_FOR - toOpen;
    const seen = probes.filter((t) => t < closedAt - 100);
    const gaps = seen.slice(1).map((t, i) => t - (seen[i] ?? 0));
    process.stdout.write(`shared breaker: opened after ${toOpen} failures (per gateway ${perGateway.join('/')}); failing probes at ${seen.join(', ')} ms after open (gaps ${gaps.join(', ')}); closed by the next; all three back at ${back.join('/')} ms\n`);
    expect(seen).toHaveLength(failingProbes);
    // One probe per open period for the whole fleet: each waits open_s after the one before (metric polling adds ~100 ms either way).
    expect(seen[0] ?? 0).toBeGreaterThanOrEqual(OPEN_S * 1000 - 500);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(OPEN_S * 1000 - 300);
    // Three replicas probing on their own would have spent the failing probes in about one open period.
    expect(closedAt).toBeGreaterThanOrEqual((failingProbes + 1) * OPEN_S * 1000 - 500);
    // Within one probe: every replica follows the success within a refresh or two, with no further probe needed.
    expect(Math.max(...back) - closedAt).toBeLessThan(1500);
    expect(await Promise.all(gateways.map(breakerOf))).toEqual([0, 0, 0]);
  }, 60_000);

  it('Redis away: each replica on its own breaker, said once, shown on /readyz and keel_state_degraded; back when Redis is', async () => {
    const before = gateways.map((g) => g.output().length);
    await redis.stop();
    // A request's breaker calls are what find Redis gone; they must still be answered.
    for (const g of gateways) for (let i = 0; i < 3; i++) await ask(g);
    for (const g of gateways) {
      const ready = (await (await fetch(`${g.url}/readyz`)).json()) as { state: { backend: string; degraded: boolean } };
      expect(ready.state).toMatchObject({ backend: 'redis', degraded: true });
      expect(await metrics(g)).toMatch(/^keel_state_degraded\{[^}]*\} 1$/m);
    }
    await sleep(600);
    gateways.forEach((g, i) => {
      const since = g.output().slice(before[i]);
      expect(since.match(/shared state: redis unreachable/g)).toHaveLength(1);
      expect(since.match(/breakers: shared state unavailable/g)).toHaveLength(1);
    });
    await redis.start();
    const deadline = Date.now() + 10_000;
    const degraded = async () => (await Promise.all(gateways.map(async (g) => ((await (await fetch(`${g.url}/readyz`)).json()) as { state: { degraded: boolean } }).state.degraded)));
    while ((await degraded()).some(Boolean) && Date.now() < deadline) await sleep(200);
    expect(await degraded()).toEqual([false, false, false]);
    for (const g of gateways) expect(await metrics(g)).toMatch(/^keel_state_degraded\{[^}]*\} 0$/m);
  }, 30_000);
});
