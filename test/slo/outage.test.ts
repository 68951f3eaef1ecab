import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { alertingSchema, sloBlockSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { pollWeights } from '../../gateway/routing/weights-poll.js';
import { WeightsStore } from '../../gateway/routing/weights.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { buildSloServer, SloLoop, WeightsPublisher } from '../../slo/index.js';
import { startAlertmanager, type Alertmanager } from '../helpers/alertmanager.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * The whole loop, live: gateway → spans → collector → ClickHouse → SLO engine → weights
 * back to the gateway and alerts to a real Alertmanager. Target A starts failing 20 % of
 * its requests; its weight drops within two evaluation cycles and traffic moves to B; the
 * page alert fires. After A recovers its weight climbs back and the alert resolves. The
 * engine's clock runs ahead of the wall clock (`ahead`) to compress minutes of windows.
 */
describe('outage → adaptive weights and alerts → recovery', () => {
  let c: RunningCollector;
  let t: Telemetry;
  let h: Harness;
  let am: Alertmanager;
  let publisher: WeightsPublisher;
  let loop: SloLoop;
  let poll: ReturnType<typeof pollWeights>;
  let closeSlo: () => Promise<void>;
  let ahead = 30_000;
  const clock = () => Date.now() + ahead;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-outage-'));
    am = await startAlertmanager();
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
    const health = new HealthRegistry();
    t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => health.breakers(), spanFlushMs: 20, env: {} });
    const adaptive = { ...sloBlockSchema.parse({}).adaptive, short: '1m', long: '2m', min_attempts: 5 };
    publisher = new WeightsPublisher({ client: c.store.client, routes: () => ['r'], budget: () => 0.005, cfg: () => adaptive, now: clock });
    loop = new SloLoop({
      client: c.store.client,
      specs: () => [sloSpecSchema.parse({ name: 'r-availability', objective: 99.5, window: '1d', sli: 'availability', scope: { route: 'r' }, min_events: 20 })],
      alerting: () => alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'alertmanager', url: am.url }] }),
      intervalMs: 30_000,
      now: clock,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
      retryBaseMs: 10,
    });
    const slo = buildSloServer(loop, c.store.client, () => publisher.snapshot);
    await slo.listen({ host: '127.0.0.1', port: 0 });
    closeSlo = () => slo.close();
    const weights = new WeightsStore();
    poll = pollWeights(`http://127.0.0.1:${(slo.server.address() as AddressInfo).port}/api/weights`, weights, 60_000, () => undefined);
    h = await startHarness({
      behaviours: { 'tgt-a': { error_rate: 0.2 }, 'tgt-b': {} },
      gateway: { health, weights },
      observe: t.observer,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: { r: { adaptive: true, max_attempts: 1, targets: [{ provider: 'oai', model: 'tgt-a' }, { provider: 'oai', model: 'tgt-b' }] } },
        // Keep A in play for this test: its breaker would otherwise open and hide the weights' effect.
        defaults: { breaker: { consecutive_failures: 1000, min_requests: 100_000 } },
      }),
    });
  }, 60_000);
  afterAll(async () => {
    poll.stop();
    await h.close();
    await t.shutdown();
    await loop.stop();
    await closeSlo();
    await c.close();
    await am.stop();
  });

  /** Sends `n` requests and returns the share that reached target A. */
  async function drive(n: number): Promise<number> {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const before = h.sim.attemptsFor('tgt-a').length;
    for (let i = 0; i < n; i++) await client.chat.completions.create({ model: 'r', messages: [{ role: 'user', content: `q${i}` }] }).catch(() => undefined);
    await t.flush();
    await c.batcher.flush();
    return (h.sim.attemptsFor('tgt-a').length - before) / n;
  }

  it('A failing 20 %: its weight drops within two cycles, traffic moves to B, the page alert reaches Alertmanager', async () => {
    const share = await drive(300);
    expect(share).toBeGreaterThan(0.35);
    let cycles = 0;
    while ((publisher.snapshot.multipliers['r|oai|tgt-a'] ?? 1) > 0.5 && cycles < 2) {
      await publisher.tick();
      cycles++;
    }
    expect(publisher.snapshot.multipliers['r|oai|tgt-a']).toBeLessThan(0.1);
    expect(cycles).toBeLessThanOrEqual(2);
    ahead = 0; // the SLO windows count the minute in progress: no waiting for it to close
    const snap = await loop.tick();
    await loop.notifier.idle();
    expect(snap.firing.map((a) => a.kind)).toContain('page');
    const alerts = await am.alerts();
    expect(alerts.some((a) => a.labels.slo === 'r-availability' && a.labels.severity === 'page' && a.status.state === 'active')).toBe(true);
    await poll.pollNow();
    expect(await drive(300)).toBeLessThan(0.12);
  });

  it('after A recovers its weight climbs back step by step and the alert resolves', async () => {
    h.sim.setBehaviour('tgt-a', {});
    const recoveredAt = Date.now();
    const weights: number[] = [];
    for (let cycle = 0; cycle < 8 && (publisher.snapshot.multipliers['r|oai|tgt-a'] ?? 1) < 1; cycle++) {
      await drive(150);
      // The engine's 1 m short window starts when A recovered: it sees only the recovery traffic.
      ahead = recoveredAt + 60_000 - Date.now();
      await publisher.tick();
      await poll.pollNow();
      weights.push(Number((publisher.snapshot.multipliers['r|oai|tgt-a'] ?? 1).toFixed(2)));
    }
    expect(weights[weights.length - 1], weights.join(' → ')).toBe(1);
    for (let i = 1; i < weights.length; i++) expect((weights[i] ?? 0) - (weights[i - 1] ?? 0)).toBeLessThanOrEqual(0.25 + 1e-9);
    ahead = 13 * 60_000; // past every short window of the incident
    const snap = await loop.tick();
    await loop.notifier.idle();
    expect(snap.firing).toEqual([]);
    const stillActive = (await am.alerts()).filter((a) => a.labels.slo === 'r-availability' && a.status.state === 'active' && new Date(a.endsAt).getTime() > Date.now());
    expect(stillActive).toEqual([]);
  });
});
