import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';

describe('telemetry with the collector down', () => {
  let h: Harness;
  let t: Telemetry;
  beforeAll(async () => {
    const health = new HealthRegistry();
    const cfg = telemetrySchema.parse({ max_queue_spans: 8 });
    t = createTelemetry(cfg, { collectorUrl: `http://127.0.0.1:${await freePort()}`, breakers: () => health.breakers(), spanFlushMs: 10_000, exportTimeoutMs: 300, env: {} });
    h = await startHarness({ gateway: { health, metrics: t.metricsHandler }, observe: t.observer });
  });
  afterAll(async () => {
    await h.close();
    await t.shutdown();
  });

  it('requests still succeed, fast; spans beyond the bounded queue and failed exports are dropped and counted', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const started = Date.now();
    // 10 requests × 2 spans = 20 spans against a queue of 8: 12 are dropped at once.
    for (let i = 0; i < 10; i++) {
      const res = await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.choices[0]?.message.content).toBeTruthy();
    }
    expect(Date.now() - started).toBeLessThan(2000);
    // Counted by the span thread as it goes (at the hand-over or at the collector's queue).
    const dropped = async () => {
      const text = await (await fetch(`${h.url}/metrics`)).text();
      return [...text.matchAll(/^keel_telemetry_dropped_total\{destination="(?:collector|record)"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    await expect.poll(dropped, { timeout: 2000 }).toBe(12);
    await new Promise((r) => setTimeout(r, 100));
    expect(await dropped()).toBe(12);
    // The 8 queued spans fail to export (nothing listens): counted too.
    await t.flush();
    expect(await dropped()).toBe(20);
  });
});
