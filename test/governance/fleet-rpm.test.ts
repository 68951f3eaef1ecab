import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * Issue 15 §3 with real processes: three gateways share one Redis, one key has 600 RPM, and a
 * burst at twice that rate for 30 s is spread over the three. A limit held per replica would
 * accept up to three times the rate; held in the shared state (GCRA in one script) the fleet
 * accepts the rate itself: 300 in 30 s plus the 1 s burst (10), within 5 %.
 */
const KEY = 'keel-rpm-test-key-0123456789abc';
const RPM = 600;
const SECONDS = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('600 RPM across three gateways (real processes, one Redis)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fleet-rpm-'));
  let redis: TestRedis;
  const procs: KeelProcess[] = [];
  let gateways: KeelProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const sim = await startKeel(['simulator', '--port', '0'], dir);
    procs.push(sim);
    writeFileSync(
      join(dir, 'keel.yaml'),
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
        'routes:',
        '  chat: { targets: [{ provider: sim, model: m }] }',
        'auth:',
        `  keys: [{ id: app, key: "${KEY}", team: t, limits: { rpm: ${RPM} } }]`,
        'telemetry: { enabled: false }',
        `state: { redis: { url: "${redis.url}", deadline_ms: 250, key_prefix: "rpm-${Date.now()}:" } }`,
        '',
      ].join('\n'),
    );
    gateways = await Promise.all([0, 1, 2].map(() => startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/)));
    procs.push(...gateways);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
  });

  it('accepts the limit, not three times it, and says so in OpenAI’s headers', async () => {
    const statuses: number[] = [];
    const headers: Headers[] = [];
    const send = async (g: KeelProcess) => {
      const res = await fetch(`${g.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }) });
      await res.arrayBuffer();
      statuses.push(res.status);
      headers.push(res.headers);
    };
    // Twice the rate: 20 requests a second, round robin over the three, paced from the start time.
    const perSecond = (2 * RPM) / 60;
    const start = Date.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < perSecond * SECONDS; i++) {
      const due = start + (i * 1000) / perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      inFlight.push(send(gateways[i % 3] as KeelProcess));
    }
    await Promise.all(inFlight);
    const accepted = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    const expected = (RPM / 60) * ((Date.now() - start) / 1000);
    process.stdout.write(`${statuses.length} sent in ${((Date.now() - start) / 1000).toFixed(1)} s at ${2 * RPM} RPM over 3 gateways: ${accepted} accepted, ${limited} limited (the rate allows ${expected.toFixed(0)})\n`);
    expect(accepted + limited).toBe(statuses.length);
    expect(Math.abs(accepted - expected) / expected).toBeLessThanOrEqual(0.05);
    const ok = headers[statuses.indexOf(200)];
    expect(ok?.get('x-ratelimit-limit-requests')).toBe(String(RPM));
    expect(Number(ok?.get('x-ratelimit-remaining-requests'))).toBeGreaterThanOrEqual(0);
    expect(ok?.get('x-ratelimit-reset-requests')).toMatch(/^\d+(\.\d+)?(ms|s)$|^\d+m\d+s$/);
    const no = headers[statuses.indexOf(429)];
    expect(no?.get('x-keel-error-class')).toBe('caller_over_limit');
    expect(Number(no?.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(no?.get('x-ratelimit-remaining-requests')).toBe('0');
  }, 90_000);
});
