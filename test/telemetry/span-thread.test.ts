import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import type { CompletedRequest } from '../../gateway/pipeline/record.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { fakeApm } from '../helpers/apm.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('the span thread', () => {
  let h: Harness;
  let t: Telemetry;
  let apm: Awaited<ReturnType<typeof fakeApm>>;
  const seen: CompletedRequest[] = [];
  beforeAll(async () => {
    apm = await fakeApm();
    const health = new HealthRegistry();
    const cfg = telemetrySchema.parse({ export: [{ endpoint: apm.url }], max_queue_spans: 10 });
    t = createTelemetry(cfg, { collectorUrl: undefined, breakers: () => health.breakers(), spanFlushMs: 20, env: {} });
    h = await startHarness({ gateway: { health, metrics: t.metricsHandler }, observe: (rec) => (seen.push(rec), t.observer(rec)) });
  });
  afterAll(async () => {
    await h.close();
    await t.shutdown();
    apm.server.close();
  });

  const dropped = async (destination: string) => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const m = new RegExp(`^keel_telemetry_dropped_total\\{destination="${destination.replace(/[[\]]/g, '\\$&')}"[^}]*\\} (\\d+)`, 'm').exec(text);
    return Number(m?.[1] ?? 0);
  };

  it('exports what it is handed; a burst beyond the bounded hand-over is dropped and counted, span for span', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'hi' }] });
    await t.flush();
    expect(apm.got.spans).toBe(2);
    const rec = seen[0];
    if (rec === undefined) throw new Error('no record observed');
    // 40 records of 2 spans in one turn of the loop: the thread cannot take them as they come.
    for (let i = 0; i < 40; i++) t.observer(rec);
    await t.flush();
    await new Promise((r) => setTimeout(r, 50));
    const lost = (await dropped('record')) + (await dropped('export[0]'));
    expect(await dropped('record')).toBeGreaterThan(0);
    expect(apm.got.spans - 2 + lost).toBe(80);
    expect(apm.got.spans - 2).toBeLessThanOrEqual(20);
  });
});

describe('spans on the gateway thread (a process confined to one core)', () => {
  it('build and export the same spans without a thread', async () => {
    const apm = await fakeApm();
    const health = new HealthRegistry();
    const t = createTelemetry(telemetrySchema.parse({ export: [{ endpoint: apm.url }] }), { collectorUrl: undefined, breakers: () => health.breakers(), spanFlushMs: 20, env: {}, spanThread: false });
    const h = await startHarness({ gateway: { health }, observe: t.observer });
    try {
      const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
      for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: `q${i}` }] });
      await new Promise((r) => setTimeout(r, 20));
      await t.flush();
      expect(apm.got.spans).toBe(10);
      expect(apm.got.traceIds.size).toBe(5);
    } finally {
      await h.close();
      await t.shutdown();
      apm.server.close();
    }
  });
});
