import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema, sloSpecSchema, type AlertingConfig, type SloSpec } from '../../config/slo-schema.js';
import { SloLoop } from '../../slo/loop.js';
import { Notifier } from '../../slo/notify.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';

/** Webhook receivers on one server; `/slow` answers after `slowMs`. */
async function hooks(slowMs = 0): Promise<{ url: string; server: Server; posts: { path: string; body: Record<string, unknown> }[] }> {
  const posts: { path: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      const answer = () => {
        posts.push({ path: req.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(200).end('ok');
      };
      if (req.url === '/slow') setTimeout(answer, slowMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, posts };
}

const spec = sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } });
const evaluation = { sli: 0.5, events: 100, bad: 50, budget: 0.01, consumed: 50, remaining: -1, pairs: [], breaching: ['page' as const] };

describe('Notifier across a reload', () => {
  it('delivers to the receivers in force; a delivery under way to the old ones finishes', async () => {
    const h = await hooks(300);
    let alerting: AlertingConfig = alertingSchema.parse({ receivers: [{ type: 'webhook', url: `${h.url}/slow` }] });
    const n = new Notifier(() => alerting, { intervalMs: 30_000, retries: 0, retryBaseMs: 10, generatorURL: '', log: () => undefined });
    n.notify({ spec, kind: 'page', transition: 'firing', startsAt: 1, at: 1, evaluation });
    alerting = alertingSchema.parse({ receivers: [{ type: 'webhook', url: `${h.url}/new` }] });
    n.notify({ spec, kind: 'page', transition: 'resolved', startsAt: 1, at: 2, evaluation });
    await n.idle();
    expect(h.posts.map((p) => `${p.path}:${String(p.body.status)}`)).toEqual(['/new:resolved', '/slow:firing']);
    h.server.close();
  });
});

const MIN = 60_000;
const now0 = Math.floor(Date.now() / MIN) * MIN - MIN;
const row = (at: number, ok: boolean, n: number) => ({
  Timestamp: String(at / 1000), route: 'chat', provider: 'p', response_model: 'm', key_id: '', team: '', stream: false, ok,
  error_class: ok ? '' : 'provider_error', ttft_ms: null, duration_ms: 500, itl_count: 0, request_id: `r${n}`,
});

describe('SloLoop across a reload', () => {
  let store: Store;
  let h: Awaited<ReturnType<typeof hooks>>;
  let loop: SloLoop;
  let specs: SloSpec[] = [spec];
  let alerting: AlertingConfig;
  beforeAll(async () => {
    h = await hooks();
    alerting = alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'webhook', url: `${h.url}/old` }] });
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-slo-reload-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    // An hour of traffic, half of it failing in the last ten minutes: the page pair breaches.
    const rows = [];
    for (let m = -59; m < 1; m++) for (let k = 0; k < 10; k++) rows.push(row(now0 + m * MIN + 30_000, m < -9 || k >= 5, rows.length));
    await insertRows(store.client, 'llm_requests', rows);
    loop = new SloLoop({ client: store.client, specs: () => specs, alerting: () => alerting, intervalMs: 30_000, now: () => now0 + 20_000, generatorURL: '', log: () => undefined, retryBaseMs: 10 });
  }, 60_000);
  afterAll(async () => {
    await loop.stop();
    h.server.close();
    await store.close();
  });

  it('an SLO the reload removed resolves its firing alert, told to the receivers now in force', async () => {
    const first = await loop.tick();
    await loop.notifier.idle();
    expect(first.firing.map((a) => `${a.slo}:${a.kind}`)).toContain('chat-availability:page');
    expect(h.posts.filter((p) => p.path === '/old').map((p) => String(p.body.status))).toContain('firing');
    specs = [];
    alerting = alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'webhook', url: `${h.url}/new` }] });
    const before = h.posts.filter((p) => p.path === '/old').length;
    const next = await loop.tick();
    await loop.notifier.idle();
    expect(next.firing).toEqual([]);
    expect(next.results).toEqual([]);
    expect(h.posts.filter((p) => p.path === '/new').map((p) => `${String(p.body.slo)}:${String(p.body.kind)}:${String(p.body.status)}`).sort()).toEqual(
      first.firing.map((a) => `${a.slo}:${a.kind}:resolved`).sort(),
    );
    expect(h.posts.filter((p) => p.path === '/old')).toHaveLength(before);
    // Gone for good: a later evaluation says nothing more about it.
    const count = h.posts.length;
    await loop.tick();
    await loop.notifier.idle();
    expect(h.posts.length).toBe(count);
  });
});
