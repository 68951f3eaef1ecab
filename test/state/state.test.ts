import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryState, RedisState, ResilientState, type SharedState } from '../../gateway/state/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * One contract, two backends (DESIGN.md §9): every operation behaves the same in process and
 * on a real Redis, concurrency included; then Redis goes away and comes back under
 * ResilientState, and no call fails or waits past the deadline.
 */
let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

let n = 0;
const key = (name: string) => `${name}-${++n}-${Date.now()}`;

describe.each([
  ['memory', () => new MemoryState()],
  ['redis', () => new RedisState({ url: redis.url, commandTimeoutMs: 200, keyPrefix: 'test:' })],
] as const)('shared state contract: %s', (_name, make) => {
  let s: SharedState;
  beforeAll(async () => {
    s = make();
    if (s instanceof RedisState) await s.ready();
  });
  afterAll(() => s.close());

  it('counters add up exactly under 500 concurrent increments, fractions included', async () => {
    const k = key('count');
    const totals = await Promise.all(Array.from({ length: 500 }, () => s.incr(k, 0.25, 60_000)));
    expect(Math.max(...totals)).toBeCloseTo(125, 9);
    expect(new Set(totals).size).toBe(500);
    expect(Number(await s.get(k))).toBeCloseTo(125, 9);
  });

  it('a counter expires ttl after it was created, not after its last increment', async () => {
    const k = key('ttl');
    await s.incr(k, 1, 150);
    await new Promise((r) => setTimeout(r, 100));
    await s.incr(k, 1, 150);
    await new Promise((r) => setTimeout(r, 100));
    expect(await s.get(k)).toBeUndefined();
  });

  it('compare-and-set: exactly one of many concurrent writers wins, and only from the expected value', async () => {
    const k = key('cas');
    const wins = await Promise.all(Array.from({ length: 50 }, (_, i) => s.compareAndSet(k, undefined, `w${i}`, 60_000)));
    expect(wins.filter(Boolean)).toHaveLength(1);
    const winner = await s.get(k);
    expect(await s.compareAndSet(k, 'not-it', 'x', 60_000)).toBe(false);
    expect(await s.compareAndSet(k, winner, 'next', 60_000)).toBe(true);
    expect(await s.get(k)).toBe('next');
  });

  it('leases: one holder at a time, renewable by it, free after release or expiry', async () => {
    const name = key('lease');
    const takes = await Promise.all(['a', 'b', 'c', 'd'].map((o) => s.lease(name, o, 200)));
    expect(takes.filter(Boolean)).toHaveLength(1);
    const holder = ['a', 'b', 'c', 'd'][takes.indexOf(true)] ?? '';
    expect(await s.lease(name, holder, 200)).toBe(true);
    await s.release(name, 'someone-else');
    expect(await s.lease(name, 'z', 200)).toBe(false);
    await s.release(name, holder);
    expect(await s.lease(name, 'z', 100)).toBe(true);
    await new Promise((r) => setTimeout(r, 150));
    expect(await s.lease(name, 'y', 100)).toBe(true);
  });

  it('getMany reads several values at once, undefined where absent or expired', async () => {
    const [a, b, c] = [key('many'), key('many'), key('many')];
    await s.set(a, 'x', 60_000);
    await s.incr(c, 2, 100);
    expect(await s.getMany([a, b, c])).toEqual(['x', undefined, '2']);
    await new Promise((r) => setTimeout(r, 150));
    expect(await s.getMany([a, b, c])).toEqual(['x', undefined, undefined]);
    expect(await s.getMany([])).toEqual([]);
  });

  it('values expire with their ttl', async () => {
    const k = key('value');
    await s.set(k, 'v', 100);
    expect(await s.get(k)).toBe('v');
    await new Promise((r) => setTimeout(r, 150));
    expect(await s.get(k)).toBeUndefined();
  });
});

describe('Redis goes away and comes back (ResilientState)', () => {
  it('no call fails or waits past the deadline while Redis is down; one log line each way; local counts are added back', async () => {
    const logs: string[] = [];
    const s = new ResilientState(new RedisState({ url: redis.url, commandTimeoutMs: 20, keyPrefix: 'resilient:' }), { log: (m) => logs.push(m), probeMs: 100 });
    const k = key('shared');
    await new Promise((r) => setTimeout(r, 200));
    expect(await s.incr(k, 5, 60_000)).toBe(5);
    expect(s.health().degraded).toBe(false);
    await redis.stop();
    const slowest: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await s.incr(k, 1, 60_000);
      slowest.push(performance.now() - t0);
    }
    // The first call meets the dead connection (a reset or the 20 ms deadline); the rest are local.
    expect(Math.max(...slowest)).toBeLessThan(250);
    expect(slowest.slice(1).every((ms) => ms < 5)).toBe(true);
    expect(s.health()).toMatchObject({ degraded: true, pendingResync: 1 });
    expect(s.health().fallbacks).toBeGreaterThanOrEqual(20);
    expect(logs.filter((l) => /unreachable/.test(l))).toHaveLength(1);
    await redis.start();
    for (let i = 0; i < 100 && s.health().degraded; i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.health().degraded).toBe(false);
    expect(logs.filter((l) => /reachable again; 1 of 1 local counters added back/.test(l))).toHaveLength(1);
    // Redis was restarted empty (no persistence): the shared total is what this replica counted alone.
    expect(Number(await s.get(k))).toBe(20);
    await s.close();
  }, 20_000);
});

/** Blocks this process's event loop, as a CPU-starved replica's is. */
function stall(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end; );
}

describe('the deadline judges Redis, not our own event loop', () => {
  it('a stalled loop does not turn an answer Redis sent in time into a miss; a paused Redis is a miss; three misses in a row degrade, one does not', async () => {
    const raw = new RedisState({ url: redis.url, commandTimeoutMs: 20, keyPrefix: 'deadline:' });
    await raw.ready();
    const k = key('stall');
    // The command goes out, then the loop is busy for 5 × the deadline before it can read the answer.
    const answered = raw.incr(k, 1, 60_000);
    stall(100);
    await expect(answered).resolves.toBe(1);
    // Another client pauses Redis (its writes and scripts) for a while: a server that is slow.
    const admin = new Redis(redis.url);
    const pause = (ms: number) => admin.call('CLIENT', 'PAUSE', String(ms), 'WRITE');
    await pause(150);
    const t0 = performance.now();
    await expect(raw.incr(k, 1, 60_000)).rejects.toThrow(/did not answer within 20 ms/);
    expect(performance.now() - t0).toBeLessThan(120);
    await new Promise((r) => setTimeout(r, 200));

    const logs: string[] = [];
    const inner = new RedisState({ url: redis.url, commandTimeoutMs: 20, keyPrefix: 'deadline:' });
    await inner.ready();
    const s = new ResilientState(inner, { log: (m) => logs.push(m), probeMs: 50 });
    expect(await s.incr(k, 1, 60_000)).toBeGreaterThan(1);
    await pause(60);
    // One late answer: that call is answered locally, the replica stays on Redis.
    expect(await s.incr(key('blip'), 1, 60_000)).toBe(1);
    expect(s.health()).toMatchObject({ degraded: false, pendingResync: 0 });
    await new Promise((r) => setTimeout(r, 100));
    await pause(300);
    for (let i = 0; i < 3; i++) await s.incr(key('outage'), 1, 60_000);
    expect(s.health().degraded).toBe(true);
    expect(logs.filter((l) => /did not answer within 20 ms/.test(l))).toHaveLength(1);
    for (let i = 0; i < 100 && s.health().degraded; i++) await new Promise((r) => setTimeout(r, 50));
    expect(s.health().degraded).toBe(false);
    admin.disconnect();
    await Promise.all([s.close(), raw.close()]);
  }, 20_000);
});

describe('scripts by SHA (EVALSHA)', () => {
  it('after Redis forgets its scripts (SCRIPT FLUSH, a restart), the next call sends the body once and goes on', async () => {
    const s = new RedisState({ url: redis.url, commandTimeoutMs: 200, keyPrefix: 'sha:' });
    await s.ready();
    const k = key('sha');
    expect(await s.incr(k, 1, 60_000)).toBe(1);
    const admin = new Redis(redis.url);
    expect(await admin.call('SCRIPT', 'FLUSH')).toBe('OK');
    expect(await s.incr(k, 2, 60_000)).toBe(3);
    // Cached again: the call after goes by SHA.
    const before = Number(/cmdstat_evalsha:calls=(\d+)/.exec(String(await admin.call('INFO', 'commandstats')))?.[1] ?? 0);
    expect(await s.incr(k, 1, 60_000)).toBe(4);
    const after = Number(/cmdstat_evalsha:calls=(\d+)/.exec(String(await admin.call('INFO', 'commandstats')))?.[1] ?? 0);
    expect(after - before).toBe(1);
    admin.disconnect();
    await s.close();
  });
});
