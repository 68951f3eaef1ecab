import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type Alertmanager } from '../helpers/alertmanager.js';
import { freePort } from '../helpers/ports.js';
import { keelBin, startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * SLO leadership across real `keel collector` processes sharing one Redis (issue 14 §3).
 *
 * Setup: chDB binds one data folder per process, so the two collectors have their own stores.
 * A gateway sends to one collector only, so instead the test is the gateway: every 300 ms it
 * sends the same OTLP export (half the requests failing) to both collectors. Both stores then
 * hold the same incident, and whichever engine leads sees the same burn. Collector A starts
 * first and takes the `slo-leader` lease; B follows and serves A's published results. Once
 * A has paged (a real Alertmanager and a counting webhook), A is SIGKILLed mid-incident, lease
 * held: B must lead within two evaluation cycles (TTL 1.25 × interval_s, asked for every quarter) and must not page
 * again — Alertmanager holds one alert per label set with A's startsAt, and the webhook saw one
 * `firing` per alert, under one idempotency key.
 */
const INTERVAL_S = 1;

interface Hook {
  status: string;
  slo: string;
  kind: string;
  key: string;
}

async function hookServer(): Promise<{ url: string; server: Server; posts: Hook[] }> {
  const posts: Hook[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(text) as { status: string; slo: string; kind: string };
      posts.push({ status: body.status, slo: body.slo, kind: body.kind, key: String(req.headers['idempotency-key']) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, posts };
}

function configFile(dir: string, name: string, port: number, redis: string, am: string, hook: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'providers:',
      '  sim: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", auth: none }',
      'routes:',
      '  chat: { targets: [{ provider: sim, model: m }] }',
      'telemetry:',
      `  collector: { port: ${port}, flush_ms: 100 }`,
      `  store: { path: ${join(dir, name, 'data')} }`,
      'slo:',
      `  interval_s: ${INTERVAL_S}`,
      '  defaults: false',
      '  objectives: [{ name: chat-availability, objective: 99, window: 1d, sli: availability, scope: { route: chat }, min_events: 10 }]',
      `  alerting: { pending_s: 0, resend_s: 1, receivers: [{ type: alertmanager, url: "${am}" }, { type: webhook, url: "${hook}" }] }`,
      'state:',
      `  redis: { url: "${redis}", deadline_ms: 200 }`,
      '',
    ].join('\n'),
  );
  return path;
}

let seq = 0;
/** Ten server spans for route chat in the last second, half failing with a provider error. */
function incidentExport(): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: 10 }, (_, k) => {
    const n = seq++;
    const id = n.toString(16).padStart(16, '0');
    const attrs = [
      { key: 'keel.request_id', value: { stringValue: `req-${n}` } },
      { key: 'keel.route', value: { stringValue: 'chat' } },
      ...(k < 5 ? [{ key: 'keel.error.class', value: { stringValue: 'provider_error' } }] : []),
    ];
    return { traceId: id.repeat(2), spanId: id, name: 'chat chat', kind: 2, startTimeUnixNano: String(now - 5_000_000n), endTimeUnixNano: String(now), attributes: attrs, status: { code: k < 5 ? 2 : 1 } };
  });
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'keel' } }] }, scopeSpans: [{ spans }] }] });
}

interface Status {
  leader: boolean;
  leaderId: string | null;
  firing: { slo: string; kind: string; since: string }[];
}

async function status(sloUrl: string): Promise<Status | undefined> {
  const res = await fetch(`${sloUrl}/api/status`).catch(() => undefined);
  return res?.ok === true ? ((await res.json()) as Status) : undefined;
}

async function until(ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !(await ok()); ) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('SLO leadership across keel collector processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-leader-'));
  let redis: TestRedis;
  let am: Alertmanager;
  let hooks: Awaited<ReturnType<typeof hookServer>>;
  let a: KeelProcess;
  let b: KeelProcess;
  /** What to stop, whichever of them came up. */
  const started: KeelProcess[] = [];
  let feeder: NodeJS.Timeout | undefined;
  const ready = /listening on (http:\/\/\S+)[\s\S]*status page on (http:\/\/\S+)\//;

  beforeAll(async () => {
    [redis, am, hooks] = await Promise.all([startRedis(), startAlertmanager(), hookServer()]);
    const [pa, pb] = [await freePort(), await freePort()];
    a = await startKeel(['collector', '--config', configFile(dir, 'a', pa, redis.url, am.url, hooks.url), '--slo-port', '0'], dir, ready);
    started.push(a);
    // A has had its first tick (and the lease) before B asks for it.
    await until(async () => (await status(a.match[2] ?? ''))?.leader === true, 10_000);
    b = await startKeel(['collector', '--config', configFile(dir, 'b', pb, redis.url, am.url, hooks.url), '--slo-port', '0'], dir, ready);
    started.push(b);
    const send = () => {
      const body = incidentExport();
      for (const p of started) if (p.alive()) void fetch(`${p.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).catch(() => undefined);
    };
    feeder = setInterval(send, 300);
  }, 120_000);

  afterAll(async () => {
    clearInterval(feeder);
    // A killed has exited already: stop() would wait for an exit that has happened.
    await Promise.all(started.filter((p) => p.alive()).map((p) => p.stop()));
    await am.stop();
    await redis.stop();
    hooks.server.close();
  });

  it('one leader: the follower serves the leader’s results and names it', async () => {
    const bUrl = b.match[2] ?? '';
    await expect.poll(async () => (await status(bUrl))?.leaderId ?? null, { timeout: 10_000 }).toMatch(/:\d+:/);
    const [sa, sb] = [await status(a.match[2] ?? ''), await status(bUrl)];
    expect(sa?.leader).toBe(true);
    expect(sb?.leader).toBe(false);
    expect(sb?.leaderId).toBe(sa?.leaderId);
    expect(b.output()).not.toMatch(/is now the leader/);
    // Gateways may poll either: the follower serves the weights the leader published.
    const weights = async (url: string): Promise<unknown> => (await fetch(`${url}/api/weights`)).json();
    expect(await weights(bUrl)).toEqual(await weights(a.match[2] ?? ''));
    const cli = (name: string) => spawnSync(process.execPath, [keelBin, 'slo', 'status', '--config', join(dir, `${name}.yaml`)], { cwd: dir, encoding: 'utf8' }).stdout;
    expect(cli('a')).toContain(`This engine leads (${sa?.leaderId ?? ''}).`);
    expect(cli('b')).toContain(`Follower: showing the last results of the leader ${sa?.leaderId ?? ''}.`);
  }, 20_000);

  it('the leader killed mid-incident: the follower leads within two cycles and pages nobody twice', async () => {
    await expect.poll(() => hooks.posts.filter((p) => p.status === 'firing').length, { timeout: 30_000, interval: 200 }).toBeGreaterThanOrEqual(2);
    // The follower mirrors the page: it would take it over as firing.
    await expect.poll(async () => (await status(b.match[2] ?? ''))?.firing.length, { timeout: 5_000 }).toBe(2);
    const before = (await am.alerts()).filter((x) => x.labels.slo === 'chat-availability');
    expect(before).toHaveLength(2);
    a.child.kill('SIGKILL');
    const killedAt = Date.now();
    await expect.poll(async () => (await status(b.match[2] ?? ''))?.leader, { timeout: 10_000, interval: 50 }).toBe(true);
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(`SLO leadership takeover after SIGKILL: ${takeoverMs} ms (interval ${INTERVAL_S * 1000} ms)\n`);
    // The lease lapses 1.25 intervals after A's last renewal (at most a quarter interval before
    // the kill); B asks every quarter interval: within two cycles (issue 14 §3).
    expect(takeoverMs).toBeLessThan(2 * INTERVAL_S * 1000);
    // Several cycles of B leading, the incident still on, re-sends to Alertmanager included.
    await new Promise((r) => setTimeout(r, 4 * INTERVAL_S * 1000));
    const firing = hooks.posts.filter((p) => p.status === 'firing');
    process.stdout.write(`webhook firing notices: ${firing.length} (${[...new Set(firing.map((p) => p.key))].join(', ')})\n`);
    expect(firing).toHaveLength(2);
    expect(new Set(firing.map((p) => p.key)).size).toBe(2);
    const after = (await am.alerts()).filter((x) => x.labels.slo === 'chat-availability');
    process.stdout.write(`Alertmanager alerts for chat-availability: ${after.length} (${after.map((x) => `${x.labels.severity ?? ''} since ${x.startsAt}`).join(', ')})\n`);
    expect(after).toHaveLength(2);
    const starts = (xs: typeof after) => Object.fromEntries(xs.map((x) => [x.labels.severity ?? '', x.startsAt]));
    expect(starts(after)).toEqual(starts(before));
    expect(after.every((x) => x.status.state === 'active')).toBe(true);
    expect(b.output()).toMatch(/SLO leadership: \S+ is now the leader/);
    const sb = await status(b.match[2] ?? '');
    expect(sb?.firing.map((f) => f.kind).sort()).toEqual(['page', 'ticket']);
  }, 60_000);
});
