import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sloBlockSchema } from '../../config/slo-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { planTargets } from '../../gateway/routing/plan.js';
import { WeightsStore } from '../../gateway/routing/weights.js';
import { buildRuntime } from '../../gateway/runtime/resolve.js';
import { advanceCanary, startCanary, type CanarySpec } from '../../slo/canary.js';
import { WeightsPublisher } from '../../slo/index.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { parseConfig } from '../helpers/harness.js';

const MIN = 60_000;
const spec = (key: string): CanarySpec => ({ key, steps: [1, 5, 25, 50, 100], stepMs: 10 * MIN, gate: 2, minAttempts: 20 });
const sample = (canaryBad: number, baselineBad = 0) => ({ canary: { total: 100, bad: canaryBad }, baseline: { total: 1000, bad: baselineBad * 10 } });

describe('canary state machine', () => {
  it('a healthy canary advances one step per held duration and completes at 100 %', () => {
    let s = startCanary(spec('r|p|new'), 0);
    const shares: string[] = [];
    for (let t = 5 * MIN; t <= 60 * MIN; t += 5 * MIN) {
      const { state, event } = advanceCanary(spec('r|p|new'), s, sample(0), 0.01, t);
      s = state;
      if (event !== undefined) shares.push(`${event.transition}:${event.share}`);
    }
    expect(shares).toEqual(['step:5', 'step:25', 'step:50', 'complete:100']);
  });

  it('a canary burning past the gate is rolled back at once, even mid-step; a canary as bad as its baseline is not', () => {
    const s = startCanary(spec('r|p|new'), 0);
    expect(advanceCanary(spec('r|p|new'), s, sample(10), 0.01, MIN).event).toMatchObject({ transition: 'rollback', share: 0 });
    expect(advanceCanary(spec('r|p|new'), s, sample(10, 8), 0.01, MIN).event).toBeUndefined();
  });
});

describe('canary rollout published and followed by routing', () => {
  let store: Store;
  let clock = Math.floor(Date.now() / MIN) * MIN;
  const events: string[] = [];
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-canary-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
  }, 60_000);
  afterAll(() => store.close());

  async function traffic(model: string, n: number, failPct: number) {
    const rows = Array.from({ length: n }, (_, i) => ({ Timestamp: String((clock - 60_000 + i * 10) / 1000), route: 'chat', provider: 'sim', model, ok: i >= (n * failPct) / 100, error_class: i < (n * failPct) / 100 ? 'provider_error' : '', request_id: `${model}${clock}${i}` }));
    await insertRows(store.client, 'llm_attempts', rows);
  }

  function publisher(canaryModel: string) {
    return new WeightsPublisher({
      client: store.client,
      routes: () => [],
      budget: () => 0.01,
      cfg: () => sloBlockSchema.parse({}).adaptive,
      canaries: () => [{ ...spec(`chat|sim|${canaryModel}`), stepMs: 10 * MIN }],
      onCanary: (e) => Promise.resolve(void events.push(`${e.key}:${e.transition}:${e.share}`)),
      now: () => clock,
    });
  }

  it('a good canary reaches 100 % step by step; a bad one is rolled back to 0 % at once', async () => {
    const good = publisher('good');
    const bad = publisher('bad');
    await good.tick();
    await bad.tick();
    expect(good.snapshot.canaries).toEqual({ 'chat|sim|good': 1 });
    for (let step = 0; step < 5; step++) {
      clock += 11 * MIN;
      await traffic('good', 40, 0);
      await traffic('bad', 40, 30);
      await traffic('base', 400, 1);
      await good.tick();
      await bad.tick();
    }
    expect(good.snapshot.canaries).toEqual({ 'chat|sim|good': 100 });
    expect(bad.snapshot.canaries).toEqual({ 'chat|sim|bad': 0 });
    expect(events).toEqual(['chat|sim|good:step:5', 'chat|sim|bad:rollback:0', 'chat|sim|good:step:25', 'chat|sim|good:step:50', 'chat|sim|good:complete:100']);
  });

  it('after a restart the rollout resumes where it was: rolled back stays at 0 %, complete at 100 %, a step mid-way keeps its step', async () => {
    const mid = publisher('mid');
    await mid.tick();
    clock += 11 * MIN;
    await traffic('mid', 40, 0);
    await mid.tick();
    expect(mid.snapshot.canaries).toEqual({ 'chat|sim|mid': 5 });
    for (const model of ['good', 'bad', 'mid']) {
      // A new engine process: a fresh publisher over the same store.
      const restarted = publisher(model);
      await restarted.load();
      // Served as stored from the start, before the first evaluation.
      expect(restarted.snapshot.canaries[`chat|sim|${model}`], model).toBe({ good: 100, bad: 0, mid: 5 }[model]);
      await restarted.tick();
      expect(restarted.snapshot.canaries[`chat|sim|${model}`], model).toBe({ good: 100, bad: 0, mid: 5 }[model]);
    }
    // The bad canary stays at 0 % however healthy it later looks.
    clock += 30 * MIN;
    await traffic('bad', 200, 0);
    const again = publisher('bad');
    await again.load();
    await again.tick();
    expect(again.snapshot.canaries).toEqual({ 'chat|sim|bad': 0 });
  });

  it('a changed rollout config starts the canary again at its first step', async () => {
    const changed = new WeightsPublisher({
      client: store.client,
      routes: () => [],
      budget: () => 0.01,
      cfg: () => sloBlockSchema.parse({}).adaptive,
      canaries: () => [{ ...spec('chat|sim|bad'), steps: [2, 50, 100], stepMs: 10 * MIN }],
      now: () => clock,
    });
    await changed.load();
    await changed.tick();
    expect(changed.snapshot.canaries).toEqual({ 'chat|sim|bad': 2 });
  });

  it('the gateway sends the canary its published share of requests, and none once rolled back', () => {
    const cfg = parseConfig({
      providers: { sim: { type: 'openai-compatible', base_url: 'http://127.0.0.1:1/v1' } },
      routes: { chat: { targets: [{ provider: 'sim', model: 'base' }, { provider: 'sim', model: 'new', canary: {} }] } },
    });
    const route = buildRuntime(cfg, 1).routes.get('chat');
    if (route === undefined) throw new Error('route');
    const store = new WeightsStore();
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const firstShare = (share: number | undefined) => {
      if (share !== undefined) store.swap({ version: `v${share}`, multipliers: new Map(), canaries: new Map([['chat|sim|new', share]]) });
      let n = 0;
      for (let i = 0; i < 4000; i++) if (planTargets(route, { health: new HealthRegistry(), weights: store.current, random })[0]?.model === 'new') n++;
      return n / 4000;
    };
    expect(firstShare(undefined)).toBeLessThan(0.03); // before any publication: the first step, 1 %
    expect(firstShare(25)).toBeGreaterThan(0.22);
    expect(firstShare(25)).toBeLessThan(0.28);
    store.swap({ version: 'v0', multipliers: new Map(), canaries: new Map([['chat|sim|new', 0]]) });
    expect(planTargets(route, { health: new HealthRegistry(), weights: store.current, random }).map((t) => t.model)).toEqual(['base']);
  });
});
