import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { alertingSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { SloLoop } from '../../slo/index.js';
import { startAlertmanager, type Alertmanager } from '../helpers/alertmanager.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * How fast a total outage pages, on the wall clock: 20 requests a second to a route whose
 * only target is down, the SLO engine evaluating every 5 s with no pending period, a real
 * Alertmanager. The windows count the minute in progress, so the page must arrive within
 * two evaluation cycles of the first failed request, wherever in its minute it falls.
 */
const INTERVAL_MS = 5_000;

describe('a total outage pages within two evaluation cycles', () => {
  let c: RunningCollector;
  let t: Telemetry;
  let h: Harness;
  let am: Alertmanager;
  let loop: SloLoop;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-page-latency-'));
    am = await startAlertmanager();
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 200, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
    t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => [], spanFlushMs: 200, env: {} });
    h = await startHarness({
      behaviours: { dead: { fault: 'overloaded' } },
      observe: t.observer,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'sk-page-latency-provider-0123' } },
        routes: { down: { targets: [{ provider: 'oai', model: 'dead' }], retries: { attempts: 0 } } },
      }),
    });
    loop = new SloLoop({
      client: c.store.client,
      specs: () => [sloSpecSchema.parse({ name: 'down-availability', objective: 99.9, window: '30d', sli: 'availability', scope: { route: 'down' }, min_events: 10 })],
      alerting: () => alertingSchema.parse({ pending_s: 0, receivers: [{ type: 'alertmanager', url: am.url }] }),
      intervalMs: INTERVAL_MS,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
      retryBaseMs: 50,
    });
  }, 60_000);
  afterAll(async () => {
    await loop.stop();
    await h.close();
    await t.shutdown();
    await c.close();
    await am.stop();
  });

  it('20 req/s of failures: the page reaches Alertmanager within 2 × interval_s of the first failure', async () => {
    loop.start();
    // Start the outage at a random point of the evaluation cycle, as a real one would.
    await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_MS));
    const start = performance.now();
    let pagedAt: number | undefined;
    const sent: Promise<unknown>[] = [];
    const traffic = setInterval(() => {
      // Each failure is the point; a request cut by the end of the test must not surface as an unhandled rejection.
      const req = fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'down', messages: [{ role: 'user', content: 'hi' }] }) });
      sent.push(req.then((r) => r.text()).catch(() => undefined));
    }, 50);
    try {
      while (pagedAt === undefined && performance.now() - start < 4 * INTERVAL_MS) {
        await new Promise((r) => setTimeout(r, 100));
        const alerts = await am.alerts();
        if (alerts.some((a) => a.labels.slo === 'down-availability' && a.labels.severity === 'page' && a.status.state === 'active')) pagedAt = performance.now();
      }
    } finally {
      clearInterval(traffic);
      await Promise.all(sent);
    }
    expect(pagedAt, 'no page within four cycles').toBeDefined();
    const latency = (pagedAt ?? Infinity) - start;
    process.stderr.write(`page latency: ${Math.round(latency)} ms after the first failed request (interval ${INTERVAL_MS} ms)\n`);
    expect(latency).toBeLessThanOrEqual(2 * INTERVAL_MS);
  }, 40_000);
});
