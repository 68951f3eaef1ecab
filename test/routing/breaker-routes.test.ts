import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeelConfig } from '../../config/schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { buildRuntime, type ResolvedRoute, type Runtime } from '../../gateway/runtime/resolve.js';
import { parseConfig, startHarness, type Harness } from '../helpers/harness.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Two routes over one shared target; each route's breaker block is the test's. */
function config(url: string, a: Record<string, unknown>, b: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const route = (breaker: Record<string, unknown>) => ({ targets: [{ provider: 'p', model: 'shared' }], retries: { attempts: 0 }, breaker: { min_requests: 100, ...breaker }, ...extra });
  return { providers: { p: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } }, routes: { a: route(a), b: route(b) } };
}

const runtimeOf = (raw: Record<string, unknown>, version: number): Runtime => buildRuntime(parseConfig(raw), version);
const routeIn = (rt: Runtime, name: string): ResolvedRoute => {
  const r = rt.routes.get(name);
  if (r === undefined) throw new Error(`no route ${name}`);
  return r;
};

/** Fails `route`'s breaker on its first target until it stops admitting; returns how many failures that took. */
function failUntilOpen(health: HealthRegistry, route: ResolvedRoute, max = 20): number {
  const target = route.targets[0];
  if (target === undefined) throw new Error('no target');
  for (let n = 0; n < max; n++) {
    const breaker = health.breaker(route, target);
    if (!breaker.allow()) return n;
    breaker.record(false);
  }
  return max;
}

describe('breakers per (route, target)', () => {
  const url = 'http://127.0.0.1:1';

  it('two routes sharing a target open at their own failure counts', () => {
    const health = new HealthRegistry(clock().now);
    const rt = runtimeOf(config(url, { consecutive_failures: 2 }, { consecutive_failures: 4 }), 1);
    health.apply(rt.routes.values(), 1);
    expect(failUntilOpen(health, routeIn(rt, 'a'))).toBe(2);
    expect(failUntilOpen(health, routeIn(rt, 'b'))).toBe(4);
    expect(health.breakers().map((b) => `${b.route}:${b.state}`).sort()).toEqual(['a:open', 'b:open']);
  });

  it('a reload that changes route A applies its new settings; B, unchanged and open, stays open', () => {
    const c = clock();
    const health = new HealthRegistry(c.now);
    const v1 = runtimeOf(config(url, { consecutive_failures: 3, open_s: 60 }, { consecutive_failures: 3, open_s: 60 }), 1);
    health.apply(v1.routes.values(), 1);
    const bBreaker = health.breaker(routeIn(v1, 'b'), routeIn(v1, 'b').targets[0] ?? never());
    expect(failUntilOpen(health, routeIn(v1, 'b'))).toBe(3);
    // A: two failures of three, then a reload lowering its threshold to 2 and its open time to 1 s.
    const aTarget = routeIn(v1, 'a').targets[0] ?? never();
    health.breaker(routeIn(v1, 'a'), aTarget).record(false);
    health.breaker(routeIn(v1, 'a'), aTarget).record(false);
    expect(health.breaker(routeIn(v1, 'a'), aTarget).state).toBe('closed');
    c.advance(2_000);
    const v2 = runtimeOf(config(url, { consecutive_failures: 2, open_s: 1 }, { consecutive_failures: 3, open_s: 60 }), 2);
    health.apply(v2.routes.values(), 2);
    expect(health.breaker(routeIn(v2, 'b'), routeIn(v2, 'b').targets[0] ?? never())).toBe(bBreaker);
    expect(bBreaker.state).toBe('open');
    expect(bBreaker.allow()).toBe(false);
    // The streak was kept and the new threshold judges the next verdict: one more failure opens A.
    const a = health.breaker(routeIn(v2, 'a'), aTarget);
    expect(a.settings.consecutive_failures).toBe(2);
    a.record(false);
    expect(a.state).toBe('open');
    // …for the new open_s (1 s), not the old 60.
    c.advance(1_001);
    expect(a.state).toBe('half_open');
    expect(bBreaker.state).toBe('open');
  });

  it('an open breaker whose new open_s is shorter than it has been open probes at once', () => {
    const c = clock();
    const health = new HealthRegistry(c.now);
    const v1 = runtimeOf(config(url, { consecutive_failures: 1, open_s: 60 }, {}), 1);
    health.apply(v1.routes.values(), 1);
    expect(failUntilOpen(health, routeIn(v1, 'a'))).toBe(1);
    c.advance(5_000);
    const v2 = runtimeOf(config(url, { consecutive_failures: 1, open_s: 2 }, {}), 2);
    health.apply(v2.routes.values(), 2);
    expect(health.breaker(routeIn(v2, 'a'), routeIn(v2, 'a').targets[0] ?? never()).state).toBe('half_open');
  });

  it('a reload with unchanged breaker settings keeps an open breaker open (the same breaker, its window and streak)', () => {
    const c = clock();
    const health = new HealthRegistry(c.now);
    const v1 = runtimeOf(config(url, { consecutive_failures: 2, open_s: 30 }, {}), 1);
    health.apply(v1.routes.values(), 1);
    const before = health.breaker(routeIn(v1, 'a'), routeIn(v1, 'a').targets[0] ?? never());
    expect(failUntilOpen(health, routeIn(v1, 'a'))).toBe(2);
    // Something else about the route changes (its timeouts): not its breaker.
    const v2 = runtimeOf(config(url, { consecutive_failures: 2, open_s: 30 }, {}, { timeouts: { total_ms: 9_000 } }), 2);
    health.apply(v2.routes.values(), 2);
    const after = health.breaker(routeIn(v2, 'a'), routeIn(v2, 'a').targets[0] ?? never());
    expect(after).toBe(before);
    expect(after.state).toBe('open');
    c.advance(29_000);
    expect(after.allow()).toBe(false);
  });

  it('an older snapshot never reverts newer settings; a removed route leaves the gauge', () => {
    const health = new HealthRegistry(clock().now);
    const v1 = runtimeOf(config(url, { consecutive_failures: 2 }, { consecutive_failures: 4 }), 1);
    const v2raw = config(url, { consecutive_failures: 5 }, {}) as { routes: Record<string, unknown> };
    delete v2raw.routes.b;
    const v2 = runtimeOf(v2raw, 2);
    health.apply(v1.routes.values(), 1);
    health.apply(v2.routes.values(), 2);
    health.apply(v1.routes.values(), 1);
    // A request still running on v1 asks with v1's route: it gets the breaker in force.
    expect(health.breaker(routeIn(v1, 'a'), routeIn(v1, 'a').targets[0] ?? never()).settings.consecutive_failures).toBe(5);
    expect(failUntilOpen(health, routeIn(v1, 'b'))).toBe(20); // b is gone: judged apart, never stored
    expect(health.breakers().map((b) => b.route)).toEqual(['a']);
  });
});

function never(): never {
  throw new Error('missing target');
}

/** Through the gateway: a reload of its config source reaches the breakers of the next requests. */
describe('breakers per route in the gateway, across a reload', () => {
  let h: Harness;
  const c = clock(Date.now());
  const health = new HealthRegistry(c.now);
  let source: { current: { config: KeelConfig; version: number } };
  const reload = (a: Record<string, unknown>, b: Record<string, unknown>) => {
    source.current = { config: parseConfig(config(h.sim.url, a, b)), version: source.current.version + 1 };
  };
  /** Requests to `route` until one is refused with its breaker open; returns how many reached the provider first. */
  async function attemptsUntilOpen(route: string): Promise<number> {
    for (let reached = 0; reached < 20; reached++) {
      const res = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: route, messages: [{ role: 'user', content: 'x' }] }) });
      await res.arrayBuffer();
      if (res.headers.get('x-keel-attempts') === '0') return reached;
    }
    return 20;
  }
  const states = () => Object.fromEntries(health.breakers().map((b) => [`${b.route}|${b.provider}|${b.model}`, b.state]));

  beforeAll(async () => {
    h = await startHarness({
      behaviours: { shared: { fault: 'server_error' } },
      gateway: { now: c.now, health },
      source: (url) => {
        source = { current: { config: parseConfig(config(url, { consecutive_failures: 2, open_s: 60 }, { consecutive_failures: 4, open_s: 60 })), version: 1 } };
        return source;
      },
    });
  });
  afterAll(() => h.close());

  it('route A opens after 2 failures and B after 4 on the same target; a reload of A leaves B open', async () => {
    expect(await attemptsUntilOpen('a')).toBe(2);
    expect(await attemptsUntilOpen('b')).toBe(4);
    expect(states()).toEqual({ 'a|p|shared': 'open', 'b|p|shared': 'open' });
    c.advance(5_000);
    reload({ consecutive_failures: 2, open_s: 1 }, { consecutive_failures: 4, open_s: 60 });
    // A's new open_s: open 5 s of 1, it probes once (the failing probe re-opens it); B stays open.
    expect(await attemptsUntilOpen('a')).toBe(1);
    expect(await attemptsUntilOpen('b')).toBe(0);
    expect(states()).toEqual({ 'a|p|shared': 'open', 'b|p|shared': 'open' });
  });
});
