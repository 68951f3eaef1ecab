import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema } from '../../config/slo-schema.js';
import { MemoryState } from '../../gateway/state/memory.js';
import type { BudgetSpec } from '../../slo/budgets.js';
import { LeaseLeadership } from '../../slo/leader.js';
import { SloLoop } from '../../slo/loop.js';
import { statusView } from '../../slo/status.js';
import { insertRows, migrate, openStore, queryRows, type Store } from '../../store/index.js';

/**
 * Budget alerts end to end: spend in llm_requests (→ sli_1m) read by the SLO loop, crossings told
 * to a webhook and Slack once each, and a leader taking over mid-period tells nothing again.
 */
describe('budget alerts from the SLO loop', () => {
  const HOUR = 3_600_000;
  // A fixed UTC day, so the calendar period never straddles midnight while the test runs.
  const day = Date.UTC(2026, 5, 15);
  let clock = day + 12 * HOUR;
  let store: Store;
  let server: Server;
  let base = '';
  const posts: { path: string; key: string | undefined; body: Record<string, unknown> }[] = [];
  const state = new MemoryState(() => clock);
  const budgets: BudgetSpec[] = [
    { scope: 'key', name: 'app', usd: 10, period: 'day', window: 'calendar' },
    // Far from its limit: never told.
    { scope: 'team', name: 'search', usd: 1000, period: 'month', window: 'calendar' },
    { scope: 'customer', name: 'acme', usd: 20, period: 'day', window: 'rolling' },
  ];
  let seq = 0;
  /** One answered request of `usd` at `at`, for key app of team search and customer acme. */
  const spend = (at: number, usd: number) => ({
    Timestamp: String(at / 1000), request_id: `r${seq++}`, route: 'chat', provider: 'p', response_model: 'm', key_id: 'app', team: 'search', customer: 'acme', ok: true, duration_ms: 100, cost_usd: usd,
  });
  const loopFor = (id: string) => {
    const leadership = new LeaseLeadership({ state, id, ttlMs: 20_000, log: () => undefined, now: () => clock });
    return new SloLoop({
      client: store.client,
      specs: () => [],
      budgets: () => budgets,
      alerting: () => alertingSchema.parse({ receivers: [{ type: 'webhook', url: `${base}/hook` }, { type: 'slack', url: `${base}/slack` }] }),
      intervalMs: 30_000,
      now: () => clock,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
      retryBaseMs: 10,
      leadership,
      onEvaluated: (snap, alerts, fired) => leadership.publish({ leaderId: id, at: snap.at, status: statusView(snap, []), weights: { version: 'w', multipliers: {}, canaries: {} }, alerts, budgets: fired }),
    });
  };
  const tick = async (loop: SloLoop) => {
    await loop.tick();
    await loop.notifier.idle();
  };
  const hooks = () => posts.filter((p) => p.path === '/hook');

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        posts.push({ path: req.url ?? '', key: req.headers['idempotency-key'] as string | undefined, body: JSON.parse(text) as Record<string, unknown> });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-budget-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    // Yesterday's spend counts for no calendar day of today.
    await insertRows(store.client, 'llm_requests', [spend(day - 14 * HOUR, 50), ...Array.from({ length: 7 }, (_, i) => spend(day + (i + 1) * HOUR, 1))]);
  }, 60_000);
  afterAll(async () => {
    server.close();
    await store.close();
  });

  it('below 80 %: nothing; 80 %: one ticket; still there: nothing more', async () => {
    const a = loopFor('a');
    await tick(a);
    expect(posts).toEqual([]);
    await insertRows(store.client, 'llm_requests', [spend(clock - 60_000, 1.5)]);
    clock += 30_000;
    await tick(a);
    await tick(a);
    expect(hooks().map((p) => p.key)).toEqual(['budget|key|app|day-calendar|2026-06-15T00:00:00Z|80']);
    const body = hooks()[0]?.body;
    expect(body).toMatchObject({ status: 'firing', kind: 'budget', scope: 'key', name: 'app', threshold: 80, budgetUsd: 10, resetsAt: '2026-06-16T00:00:00Z' });
    expect(body?.labels).toEqual({ alertname: 'KeelBudget', scope: 'key', name: 'app', period: 'day', window: 'calendar', threshold: '80', severity: 'ticket' });
    expect(body?.spentUsd).toBeCloseTo(8.5, 9);
    expect(posts.filter((p) => p.path === '/slack').map((p) => p.body.text)).toEqual([
      'Budget: key app has used 80 % of its $10.00 daily budget (UTC day): $8.50 spent (85 %) since 2026-06-15T00:00:00Z; resets 2026-06-16T00:00:00Z',
    ]);
  });

  it('a new leader adopts the book (no second 80 %), then tells 100 % once; the rolling customer budget is judged on its own window', async () => {
    // A stops; one TTL later B takes the lease and reads what A published.
    clock += 21_000;
    const b = loopFor('b');
    await tick(b);
    expect(hooks()).toHaveLength(1);
    await insertRows(store.client, 'llm_requests', [spend(clock - 60_000, 2)]);
    clock += 30_000;
    await tick(b);
    await tick(b);
    expect(hooks().map((p) => p.key)).toEqual(['budget|key|app|day-calendar|2026-06-15T00:00:00Z|80', 'budget|key|app|day-calendar|2026-06-15T00:00:00Z|100']);
    expect(hooks()[1]?.body.labels).toMatchObject({ threshold: '100', severity: 'page' });
    // 10.5 today, and yesterday's 50 is more than 24 h back for the rolling customer budget (20): 52 %, not told.
    expect(hooks().filter((p) => (p.body as { scope?: string }).scope !== 'key')).toEqual([]);
    const events = await queryRows<{ slo: string; transition: string; summary: string }>(store.client, "SELECT slo, transition, summary FROM alert_events WHERE kind = 'budget' ORDER BY ts");
    expect(events.map((e) => [e.slo, e.transition])).toEqual([['budget:day-calendar:key:app', '80%'], ['budget:day-calendar:key:app', '100%']]);
    expect(events[1]?.summary).toMatch(/^Budget: key app has used up its \$10\.00 daily budget/);
  });

  it('a collector restarted mid-period (no shared state) rebuilds the book from alert_events: nothing told again; the next UTC day re-arms', async () => {
    const restarted = new SloLoop({
      client: store.client,
      specs: () => [],
      budgets: () => budgets,
      alerting: () => alertingSchema.parse({ receivers: [{ type: 'webhook', url: `${base}/hook` }] }),
      intervalMs: 30_000,
      now: () => clock,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
      retryBaseMs: 10,
    });
    const before = hooks().length;
    clock += 30_000;
    await tick(restarted);
    expect(hooks()).toHaveLength(before);
    // The next day: 9 spent by 01:00 is 90 % of the new day's key budget, told as a new 80 %; the
    // customer's rolling 24 h still holds yesterday's 10.5 as well, 97.5 % of its 20.
    clock = day + 25 * HOUR;
    await insertRows(store.client, 'llm_requests', [spend(day + 24 * HOUR + 60_000, 9)]);
    await tick(restarted);
    expect(hooks().slice(before).map((p) => p.key)).toEqual(['budget|key|app|day-calendar|2026-06-16T00:00:00Z|80', 'budget|customer|acme|day-rolling|2026-06-16T01:00:00Z|80']);
  });
});
