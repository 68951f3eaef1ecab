import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema, sloBlockSchema } from '../../config/slo-schema.js';
import { pollWeights } from '../../gateway/routing/weights-poll.js';
import { WeightsStore } from '../../gateway/routing/weights.js';
import { buildSloServer, nextWeights, SloLoop, WeightsPublisher } from '../../slo/index.js';
import { insertRows, migrate, openStore, queryRows, type Store } from '../../store/index.js';
import { baseConfig, eventually, startHarness } from '../helpers/harness.js';

const cfg = sloBlockSchema.parse({}).adaptive;
const sample = (key: string, shortBad: number, longBad = shortBad, total = 100) => ({ key, short: { total, bad: shortBad }, long: { total: total * 12, bad: longBad * 12 } });

describe('adaptive weights (pure)', () => {
  const budget = () => 0.01;
  it('a target burning its budget drops at once, in proportion, never under the floor', () => {
    const { next, changes } = nextWeights(new Map(), [sample('r|a|m', 5), sample('r|b|m', 0), sample('r|c|m', 90)], budget, cfg);
    expect(next.get('r|a|m')).toBeCloseTo(0.2, 9); // 5 % errors = 5× the 1 % budget
    expect(next.has('r|b|m')).toBe(false); // healthy: stays at the implicit 1
    expect(next.get('r|c|m')).toBe(cfg.floor);
    expect(changes.find((c) => c.key === 'r|a|m')?.reason).toMatch(/burning 5\.0× its error budget/);
  });

  it('one bad short window alone does not move a target (the long window must agree)', () => {
    const { changes } = nextWeights(new Map(), [sample('r|a|m', 50, 0)], budget, cfg);
    expect(changes).toEqual([]);
  });

  it('recovery climbs by at most max_step per cycle; tiny changes are ignored; pins win', () => {
    let w = new Map([['r|a|m', 0.05]]);
    const steps: number[] = [];
    for (let i = 0; i < 5; i++) {
      w = nextWeights(w, [sample('r|a|m', 0)], budget, cfg).next;
      steps.push(Number((w.get('r|a|m') ?? 1).toFixed(2)));
    }
    expect(steps).toEqual([0.3, 0.55, 0.8, 1, 1]);
    expect(nextWeights(new Map([['r|a|m', 0.5]]), [sample('r|a|m', 1.96, 1.96)], budget, cfg).changes).toEqual([]); // target 0.51: within hysteresis
    expect(nextWeights(new Map(), [sample('r|a|m', 0)], budget, { ...cfg, pins: { 'r|a|m': 0 } }).next.get('r|a|m')).toBe(0);
    expect(nextWeights(new Map(), [sample('r|a|m', 50, 50, 5)], budget, cfg).changes).toEqual([]); // too few attempts to judge
  });
});

describe('weights published from llm_attempts and followed by the gateway', () => {
  const MIN = 60_000;
  let store: Store;
  let clock = Math.floor(Date.now() / MIN) * MIN;
  let publisher: WeightsPublisher;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-weights-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    publisher = new WeightsPublisher({ client: store.client, routes: () => ['chat'], budget: () => 0.005, cfg: () => cfg, now: () => clock });
  }, 60_000);
  afterAll(() => store.close());

  /** `n` attempts a minute for `minutes` minutes before the clock on target `model`, `failPct` of them failing. */
  async function attempts(model: string, minutes: number, failPct: number, endAt = clock) {
    const rows: Record<string, unknown>[] = [];
    for (let m = 1; m <= minutes; m++) {
      for (let k = 0; k < 20; k++) {
        const bad = k < (20 * failPct) / 100;
        rows.push({ Timestamp: String((endAt - m * MIN + 1000 + k) / 1000), route: 'chat', provider: 'sim', model, ok: !bad, error_class: bad ? 'provider_error' : '', failure_class: bad ? 'transient' : '', request_id: `${model}${m}-${k}` });
      }
    }
    await insertRows(store.client, 'llm_attempts', rows);
  }

  it('a target failing 20 % loses weight in one cycle, with the reason recorded; the other keeps it', async () => {
    await attempts('flaky', 60, 20);
    await attempts('steady', 60, 0);
    const changes = await publisher.tick();
    expect(changes.map((c) => c.key)).toEqual(['chat|sim|flaky']);
    expect(publisher.snapshot.multipliers).toEqual({ 'chat|sim|flaky': cfg.floor });
    const [row] = await queryRows<{ version: string; multiplier: number; reason: string }>(store.client, "SELECT version, multiplier, reason FROM routing_weights WHERE model = 'flaky'");
    expect(row).toEqual({ version: publisher.snapshot.version, multiplier: cfg.floor, reason: 'burning 40.0× its error budget' });
  });

  it('after recovery the weight climbs back step by step, one version per change', async () => {
    const versions = new Set<string>([publisher.snapshot.version]);
    const seen: number[] = [];
    for (let cycle = 0; cycle < 5; cycle++) {
      clock += 5 * MIN;
      await attempts('flaky', 5, 0);
      await attempts('steady', 5, 0);
      await publisher.tick();
      versions.add(publisher.snapshot.version);
      seen.push(Number((publisher.snapshot.multipliers['chat|sim|flaky'] ?? 1).toFixed(2)));
    }
    expect(seen).toEqual([0.3, 0.55, 0.8, 1, 1]);
    expect(versions.size).toBe(5);
  });

  it('a gateway polling the SLO engine swaps the snapshot and routes by it; requests record the version', async () => {
    const loop = new SloLoop({ client: store.client, specs: () => [], alerting: () => alertingSchema.parse({}), intervalMs: 30_000, generatorURL: '', log: () => undefined });
    const pinned = new WeightsPublisher({ client: store.client, routes: () => ['adaptive'], budget: () => 0.005, cfg: () => ({ ...cfg, pins: { 'adaptive|oai|gpt-a': 0 } }), now: () => clock });
    await insertRows(store.client, 'llm_attempts', Array.from({ length: 30 }, (_, i) => ({ Timestamp: String((clock - 30_000 + i) / 1000), route: 'adaptive', provider: 'oai', model: 'gpt-a', ok: true, request_id: `p${i}` })));
    await pinned.tick();
    const app = buildSloServer(loop, store.client, () => pinned.snapshot);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const weights = new WeightsStore();
    const poll = pollWeights(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/weights`, weights, 60_000, () => undefined);
    const h = await startHarness({
      gateway: { weights },
      config: (url) => ({ ...baseConfig(url), routes: { adaptive: { adaptive: true, targets: [{ provider: 'oai', model: 'gpt-a' }, { provider: 'oai', model: 'gpt-b' }] } } }),
    });
    try {
      await poll.pollNow();
      expect(weights.current.version).toBe(pinned.snapshot.version);
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
      for (let i = 0; i < 20; i++) expect((await client.chat.completions.create({ model: 'adaptive', messages: [{ role: 'user', content: 'hi' }] })).model).toBe('gpt-b');
      expect(h.sim.attemptsFor('gpt-a')).toHaveLength(0);
      expect((await eventually(() => h.records[19])).weightsVersion).toBe(pinned.snapshot.version);
    } finally {
      poll.stop();
      await h.close();
      await app.close();
    }
  });
});
