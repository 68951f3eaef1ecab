import { createServer, type Server, type Socket } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { fakeApm } from '../helpers/apm.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { freePort } from '../helpers/ports.js';

/**
 * The shutdown flush is bounded (telemetry.flush_timeout_ms): a collector that takes the
 * connection and never answers costs the timeout and no more, one that refuses is skipped at
 * once, a healthy APM beside either still gets everything, and what is given up is counted.
 */
describe.each([true, false])('bounded shutdown flush (span thread: %s)', (spanThread) => {
  let h: Harness;
  let apm: Awaited<ReturnType<typeof fakeApm>>;
  let silent: Server;
  const held: Socket[] = [];
  beforeAll(async () => {
    apm = await fakeApm();
    silent = createServer((s) => void held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    h = await startHarness();
  });
  afterAll(async () => {
    held.forEach((s) => s.destroy());
    silent.close();
    apm.server.close();
    await h.close();
  });

  /** Telemetry to `collectorUrl` and the fake APM, with three requests' spans (2 each) still queued. */
  async function withQueuedSpans(collectorUrl: string): Promise<Telemetry> {
    const health = new HealthRegistry();
    const cfg = telemetrySchema.parse({ export: [{ endpoint: apm.url }] });
    // Nothing leaves before the shutdown: a 10 s span flush and metric interval.
    const t = createTelemetry(cfg, { collectorUrl, breakers: () => health.breakers(), spanFlushMs: 10_000, metricExportMs: 10_000, env: {}, spanThread });
    const records = h.records.length;
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: `q${i}` }] });
    await expect.poll(() => h.records.length).toBe(records + 3);
    for (const rec of h.records.slice(records)) t.observer(rec);
    // Records reach the span pipeline on the next turn, and the thread in 10 ms batches.
    await new Promise((r) => setTimeout(r, 50));
    return t;
  }

  it('a collector that never answers: given up at the timeout, its spans and the last metrics counted; the APM got its spans', async () => {
    const before = apm.got.spans;
    const t = await withQueuedSpans(`http://127.0.0.1:${(silent.address() as { port: number }).port}`);
    const started = Date.now();
    // Long enough for the APM's export on a loaded machine: it runs beside the collector's, under the same deadline.
    const report = await t.shutdown(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(980);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(report).toMatchObject({ spansDropped: 6, metricsDropped: true, unreachable: [] });
    expect(apm.got.spans - before).toBe(6);
  });

  it('a collector that refuses connections: skipped at once', async () => {
    const before = apm.got.spans;
    const t = await withQueuedSpans(`http://127.0.0.1:${await freePort()}`);
    const started = Date.now();
    const report = await t.shutdown(5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(report).toMatchObject({ spansDropped: 6, metricsDropped: true, unreachable: ['collector'] });
    expect(apm.got.spans - before).toBe(6);
  });
});
