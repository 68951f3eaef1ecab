import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { MemoryState } from '../../gateway/state/memory.js';
import { RedisState } from '../../gateway/state/redis.js';
import { LeaseLeadership, SoleLeader } from '../../slo/leader.js';
import { SloLoop } from '../../slo/loop.js';
import { statusText, statusView } from '../../slo/status.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lease itself, against a real Redis: one leader, takeover after the TTL, and what an outage means for each side. */
describe('LeaseLeadership on Redis', () => {
  let redis: TestRedis;
  const states: RedisState[] = [];
  const logs: string[] = [];
  /** An engine with its own connection, as another process would have. */
  const open = (id: string, ttlMs: number, prefix: string) => {
    const state = new RedisState({ url: redis.url, commandTimeoutMs: 200, keyPrefix: prefix });
    states.push(state);
    return { state, lead: new LeaseLeadership({ state, id, ttlMs, log: (m) => logs.push(m) }) };
  };
  /** Two engines on one Redis (one key prefix: one deployment). */
  const pair = async (ttlMs: number) => {
    const state = new RedisState({ url: redis.url, commandTimeoutMs: 200, keyPrefix: `p${states.length}:` });
    states.push(state);
    await state.ready();
    return [new LeaseLeadership({ state, id: 'a', ttlMs, log: (m) => logs.push(m) }), new LeaseLeadership({ state, id: 'b', ttlMs, log: (m) => logs.push(m) })] as const;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(states.map((s) => s.close()));
    await redis.stop();
  });

  it('one leads, the other follows and learns who leads; the follower takes over once the leader stops renewing', async () => {
    const [a, b] = await pair(400);
    expect(await a.renew()).toBe(true);
    expect(await b.renew()).toBe(false);
    await b.shared();
    expect(b.info()).toEqual({ leader: false, leaderId: 'a' });
    // a renews within the TTL: it keeps the lease across several TTLs.
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      expect(await a.renew()).toBe(true);
      expect(await b.renew()).toBe(false);
    }
    // a dies (no more renewals): b leads once the TTL has run out, not before.
    await sleep(200);
    expect(await b.renew()).toBe(false);
    await sleep(250);
    expect(await b.renew()).toBe(true);
    expect(b.info()).toEqual({ leader: true, leaderId: 'b' });
    expect(await a.renew()).toBe(false);
    expect(logs).toContain('SLO leadership: b is now the leader (evaluates, notifies, publishes weights, steps canaries)');
  });

  it('resigning hands the lease over at the next renewal, without waiting for the TTL', async () => {
    const [a, b] = await pair(60_000);
    expect(await a.renew()).toBe(true);
    await a.resign();
    expect(await b.renew()).toBe(true);
  });

  it('Redis unreachable: the leader leads until its lease would have expired, then steps down; a follower never takes over', async () => {
    const leader = open('l', 1000, 'outage:');
    const follower = open('f', 1000, 'outage:');
    await Promise.all([leader.state.ready(), follower.state.ready()]);
    expect(await leader.lead.renew()).toBe(true);
    expect(await follower.lead.renew()).toBe(false);
    await redis.stop();
    try {
      expect(await leader.lead.renew()).toBe(true);
      expect(await follower.lead.renew()).toBe(false);
      await sleep(1100);
      expect(await leader.lead.renew()).toBe(false);
      expect(await follower.lead.renew()).toBe(false);
      expect(logs.some((m) => m.includes('the lease has expired: stepping down'))).toBe(true);
      expect(logs).toContain('SLO leadership: l is a follower (serves the leader\'s last results)');
    } finally {
      await redis.start();
    }
  });

  it('a single collector (no state.redis) always leads', async () => {
    const sole = new SoleLeader('only');
    expect(await sole.renew()).toBe(true);
    expect(sole.info()).toEqual({ leader: true, leaderId: 'only' });
  });
});

/** `keel slo status` says who leads. */
describe('status view and text', () => {
  it('name the leader, or say the answer is a follower’s', () => {
    const snap = { at: 0, results: [], firing: [] };
    expect(statusText(statusView(snap, [], undefined, 1, { leader: true, leaderId: 'h:1:ab' }))).toMatch(/This engine leads \(h:1:ab\)\./);
    const follower = statusView(snap, [], undefined, 1, { leader: false, leaderId: 'h:1:ab' });
    expect(follower).toMatchObject({ leader: false, leaderId: 'h:1:ab' });
    expect(statusText(follower)).toMatch(/Follower: showing the last results of the leader h:1:ab\./);
  });
});

/**
 * The handoff between two SloLoops on one state (MemoryState: the lease semantics are the same,
 * and the clock is injected): A fires and publishes, then stops; B takes over after the TTL,
 * sends no second `firing`, and its resolve carries A's startsAt in the idempotency key.
 */
describe('SloLoop takeover', () => {
  const MIN = 60_000;
  const now0 = Math.floor(Date.now() / MIN) * MIN - MIN;
  let clock = now0 + 20_000;
  let store: Store;
  let server: Server;
  let url = '';
  const posts: { key: string; status: string; kind: string }[] = [];
  const state = new MemoryState(() => clock);

  const row = (at: number, ok: boolean, n: number) => ({
    Timestamp: String(at / 1000), route: 'chat', provider: 'p', response_model: 'm', key_id: '', team: '', stream: false, ok,
    error_class: ok ? '' : 'provider_error', ttft_ms: null, duration_ms: 500, itl_count: 0, request_id: `r${n}`,
  });
  const traffic = (fromMin: number, toMin: number, bad: number, offset: number) => {
    const rows: Record<string, unknown>[] = [];
    for (let m = fromMin; m < toMin; m++) for (let k = 0; k < 10; k++) rows.push(row(now0 + m * MIN + 30_000, k >= bad, offset + rows.length));
    return rows;
  };
  const loopFor = (id: string) => {
    const leadership = new LeaseLeadership({ state, id, ttlMs: 20_000, log: () => undefined, now: () => clock });
    const loop = new SloLoop({
      client: store.client,
      specs: () => [sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } })],
      alerting: () => alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'webhook', url }] }),
      intervalMs: 30_000,
      now: () => clock,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
      retryBaseMs: 10,
      leadership,
      onEvaluated: (snap, alerts) => leadership.publish({ leaderId: id, at: snap.at, status: statusView(snap, []), weights: { version: 'w', multipliers: {}, canaries: {} }, alerts }),
    });
    return loop;
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as { status: string; kind: string };
        posts.push({ key: String(req.headers['idempotency-key']), status: body.status, kind: body.kind });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-leader-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    await insertRows(store.client, 'llm_requests', traffic(-60, 1, 5, 0));
  }, 60_000);
  afterAll(async () => {
    server.close();
    await store.close();
  });

  it('a leader whose lease lapses during its evaluation publishes but pages nobody (its successor owns the alerts)', async () => {
    const own = new MemoryState(() => clock);
    const leadership = new LeaseLeadership({ state: own, id: 'slow', ttlMs: 20_000, log: () => undefined, now: () => clock });
    const logs: string[] = [];
    const spec = sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } });
    let published = 0;
    const loop = new SloLoop({
      client: store.client,
      // The evaluation "stalls" past the lease: the clock moves on while the SLOs are read.
      specs: () => ((clock += 21_000), [spec]),
      alerting: () => alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'webhook', url }] }),
      intervalMs: 30_000,
      now: () => clock,
      generatorURL: 'http://127.0.0.1/',
      log: (m) => logs.push(m),
      retryBaseMs: 10,
      leadership,
      onEvaluated: () => ((published += 1), Promise.resolve()),
    });
    const before = posts.length;
    const saved = clock;
    try {
      expect((await loop.tick()).firing.map((f) => f.kind).sort()).toEqual(['page', 'ticket']);
      await loop.notifier.idle();
      expect(published).toBe(1);
      expect(posts.length).toBe(before);
      expect(logs.join('\n')).toMatch(/lease lapsed during this evaluation/);
    } finally {
      clock = saved;
    }
  }, 30_000);

  it('the new leader carries the alerts on: no second page, and the resolve has the first leader’s key', async () => {
    const a = loopFor('a');
    const b = loopFor('b');
    expect((await a.tick()).firing.map((f) => f.kind).sort()).toEqual(['page', 'ticket']);
    expect((await b.tick()).results).toEqual([]);
    await a.notifier.idle();
    const firing = posts.filter((p) => p.status === 'firing');
    expect(firing.map((p) => p.kind).sort()).toEqual(['page', 'ticket']);
    // A dies; one TTL later B's tick takes the lease and evaluates the same incident.
    clock += 21_000;
    expect(b.leading).toBe(false);
    expect((await b.tick()).firing.map((f) => f.kind).sort()).toEqual(['page', 'ticket']);
    expect(b.leading).toBe(true);
    await b.notifier.idle();
    expect(posts.filter((p) => p.status === 'firing')).toHaveLength(2);
    // Clean traffic: B resolves under the keys A fired with.
    await insertRows(store.client, 'llm_requests', traffic(1, 21, 0, 100_000));
    clock = now0 + 20 * MIN + 20_000;
    await b.tick();
    await b.notifier.idle();
    const resolved = posts.filter((p) => p.status === 'resolved');
    expect(resolved.map((p) => p.key.replace(/\|resolved$/, '')).sort()).toEqual(firing.map((p) => p.key.replace(/\|firing$/, '')).sort());
    // And A, back, is a follower that evaluates nothing.
    expect((await a.tick()).results).toEqual([]);
    expect(a.leading).toBe(false);
  }, 30_000);
});
