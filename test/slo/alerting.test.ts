import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { SloLoop } from '../../slo/loop.js';
import { insertRows, migrate, openStore, queryRows, type Store } from '../../store/index.js';
import { startAlertmanager, type Alertmanager } from '../helpers/alertmanager.js';

/**
 * Burn-rate alerts from seeded data to a real Alertmanager, a JSON webhook and a
 * Slack-style webhook, on an injected clock: an incident in the last ten minutes
 * fires page and ticket alerts at once; twenty minutes of clean traffic resolve them.
 */
const MIN = 60_000;
// A minute back, so the firing alert's startsAt is not in Alertmanager's future.
const now0 = Math.floor(Date.now() / MIN) * MIN - MIN;

const row = (at: number, ok: boolean, n: number) => ({
  Timestamp: String(at / 1000), route: 'chat', provider: 'p', response_model: 'm', key_id: '', team: '', stream: false, ok,
  error_class: ok ? '' : 'provider_error', ttft_ms: null, duration_ms: 500, itl_count: 0, request_id: `r${n}`,
});

function traffic(fromMin: number, toMin: number, badPerMinute: (minute: number) => number): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let m = fromMin; m < toMin; m++) for (let k = 0; k < 10; k++) rows.push(row(now0 + m * MIN + 30_000, k >= badPerMinute(m), rows.length));
  return rows;
}

async function hookServer(): Promise<{ url: string; server: Server; posts: { path: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] }> {
  const posts: { path: string; headers: Record<string, unknown>; body: Record<string, unknown> }[] = [];
  let flakyCalls = 0;
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      // `/flaky` refuses every other call with 503: deliveries must be retried, and land once.
      if (req.url === '/flaky' && flakyCalls++ % 2 === 0) return void res.writeHead(503).end('busy');
      posts.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as Record<string, unknown> });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, posts };
}

describe('burn-rate alerts', () => {
  let store: Store;
  let am: Alertmanager;
  let hooks: Awaited<ReturnType<typeof hookServer>>;
  let loop: SloLoop;
  // Inside the last seeded minute: the minute in progress, which the windows count.
  let clock = now0 + 20_000;
  beforeAll(async () => {
    [am, hooks] = await Promise.all([startAlertmanager(), hookServer()]);
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-alerts-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    // A day at 10 requests a minute, up to the minute in progress; half fail in the last ten minutes.
    await insertRows(store.client, 'llm_requests', traffic(-1439, 1, (m) => (m >= -9 ? 5 : 0)));
    loop = new SloLoop({
      client: store.client,
      specs: () => [
        sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } }),
        sloSpecSchema.parse({ name: 'quiet-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'quiet' }, absent_after: '5m' }),
      ],
      alerting: () => alertingSchema.parse({ pending_s: 0, resend_s: 20, receivers: [{ type: 'alertmanager', url: am.url }, { type: 'webhook', url: `${hooks.url}/hook`, headers: { authorization: 'Bearer hook-secret' } }, { type: 'slack', url: `${hooks.url}/slack` }, { type: 'webhook', url: `${hooks.url}/flaky` }] }),
      intervalMs: 30_000,
      now: () => clock,
      generatorURL: 'http://127.0.0.1:4319/',
      log: () => undefined,
      retryBaseMs: 10,
    });
  }, 60_000);
  afterAll(async () => {
    await loop.stop();
    await am.stop();
    hooks.server.close();
    await store.close();
  });

  const active = async () => (await am.alerts()).filter((a) => a.status.state === 'active' && new Date(a.endsAt).getTime() > Date.now());

  it('an incident fires page and ticket alerts, visible in Alertmanager and delivered once to each webhook', async () => {
    const snap = await loop.tick();
    await loop.notifier.idle();
    expect(snap.firing.map((a) => `${a.slo}:${a.kind}`).sort()).toEqual(['chat-availability:page', 'chat-availability:ticket', 'quiet-availability:absent']);
    const alerts = await active();
    expect(alerts.map((a) => `${a.labels.alertname}:${a.labels.slo}:${a.labels.severity}`).sort()).toEqual([
      'KeelSLOBurnRate:chat-availability:page',
      'KeelSLOBurnRate:chat-availability:ticket',
      'KeelSLONoData:quiet-availability:ticket',
    ]);
    expect(alerts.find((a) => a.labels.severity === 'page')?.annotations.summary).toMatch(/burning its error budget \(page\).*2m\/1m ×50\.0\/×50\.0/);
    const hook = hooks.posts.filter((p) => p.path === '/hook');
    expect(hook.map((p) => `${String(p.body.slo)}:${String(p.body.kind)}:${String(p.body.status)}`).sort()).toEqual(['chat-availability:page:firing', 'chat-availability:ticket:firing', 'quiet-availability:absent:firing']);
    expect(hook[0]?.headers.authorization).toBe('Bearer hook-secret');
    expect(hook[0]?.headers['idempotency-key']).toMatch(/\|firing$/);
    expect(hooks.posts.filter((p) => p.path === '/slack').map((p) => typeof p.body.text)).toEqual(['string', 'string', 'string']);
    // Each delivery to the flaky receiver was refused once, retried, and accepted exactly once.
    expect(hooks.posts.filter((p) => p.path === '/flaky').map((p) => String(p.body.kind)).sort()).toEqual(['absent', 'page', 'ticket']);
  });

  it('the next evaluation sends no duplicates to webhooks; Alertmanager hears the firing alerts again (resend period passed), with a later endsAt', async () => {
    const endsAt = async () => new Date((await am.alerts()).find((a) => a.labels.severity === 'page')?.endsAt ?? 0).getTime();
    const first = await endsAt();
    clock += 30_000;
    const before = hooks.posts.length;
    await loop.tick();
    await loop.notifier.idle();
    expect(hooks.posts.length).toBe(before);
    expect(await endsAt()).toBe(first + 30_000);
  });

  it('clean traffic resolves the burn alerts: resolve messages sent, Alertmanager no longer shows them', async () => {
    await insertRows(store.client, 'llm_requests', traffic(1, 21, () => 0));
    clock = now0 + 20 * MIN + 20_000;
    const snap = await loop.tick();
    await loop.notifier.idle();
    expect(snap.firing.map((a) => `${a.slo}:${a.kind}`)).toEqual(['quiet-availability:absent']);
    const resolved = hooks.posts.filter((p) => p.path === '/hook' && p.body.status === 'resolved').map((p) => String(p.body.kind)).sort();
    expect(resolved).toEqual(['page', 'ticket']);
    expect(hooks.posts.filter((p) => p.path === '/slack').some((p) => /^RESOLVED: SLO chat-availability/.test(String(p.body.text)))).toBe(true);
    expect((await active()).map((a) => a.labels.alertname)).toEqual(['KeelSLONoData']);
    const events = await queryRows<{ kind: string; transition: string }>(store.client, "SELECT kind, transition FROM alert_events WHERE slo = 'chat-availability' ORDER BY ts, kind, transition");
    expect(events.map((e) => `${e.kind}:${e.transition}`)).toEqual(['page:firing', 'page:pending', 'ticket:firing', 'ticket:pending', 'page:resolved', 'ticket:resolved']);
  });
});
