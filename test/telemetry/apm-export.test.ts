import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { fakeApm } from '../helpers/apm.js';
import { startHarness, type Harness } from '../helpers/harness.js';

describe('export to APMs', () => {
  let h: Harness;
  let t: Telemetry;
  let full: Awaited<ReturnType<typeof fakeApm>>;
  let half: Awaited<ReturnType<typeof fakeApm>>;
  let env: Awaited<ReturnType<typeof fakeApm>>;
  beforeAll(async () => {
    [full, half, env] = await Promise.all([fakeApm(), fakeApm(), fakeApm()]);
    const health = new HealthRegistry();
    const cfg = telemetrySchema.parse({ export: [{ endpoint: full.url, headers: { 'x-apm-key': 'apm-secret' } }, { endpoint: `${half.url}/`, sample: 0.5 }] });
    // No collector: only the APMs and the standard OTEL_* variables (read by the exporter itself).
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${env.url}/v1/traces`;
    t = createTelemetry(cfg, { collectorUrl: undefined, breakers: () => health.breakers(), spanFlushMs: 20 });
    h = await startHarness({ gateway: { health }, observe: t.observer });
  });
  afterAll(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    await h.close();
    await t.shutdown();
    for (const a of [full, half, env]) a.server.close();
  });

  it('every trace goes to an unsampled APM with its headers; a 0.5 sample keeps whole traces, about half; OTEL_* variables add one more', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 40; i++) await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: `q${i}` }] });
    await new Promise((r) => setTimeout(r, 50));
    await t.flush();
    expect(full.got.spans).toBe(80);
    expect(full.got.headers['x-apm-key']).toBe('apm-secret');
    expect(env.got.spans).toBe(80);
    // Sampling by trace id: each kept trace arrives whole (2 spans), and roughly half are kept.
    expect(half.got.spans).toBe(half.got.traceIds.size * 2);
    expect(half.got.traceIds.size).toBeGreaterThan(8);
    expect(half.got.traceIds.size).toBeLessThan(32);
  });
});
