import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { alertingSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { SloLoop } from '../../slo/index.js';
import { queryRows } from '../../store/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Who pays for a failure, end to end (DESIGN.md §8): requests through the gateway, spans
 * through a real collector into ClickHouse, then the SLI rows the SLO engine reads. A full
 * outage (every target down, then every breaker open) is the providers': every failed request
 * is a bad event of the route, including those no target was asked for. A caller's invalid
 * body is nobody's. Keel's own failure (it could not encode the request) spends the route's
 * budget and touches no target.
 */
describe('failure attribution reaches sli_1m exactly', () => {
  let c: RunningCollector;
  let t: Telemetry;
  let h: Harness;
  const health = new HealthRegistry();
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-attr-'));
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
    t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => health.breakers(), spanFlushMs: 20, env: {} });
    h = await startHarness({
      behaviours: { 'down-a': { fault: 'overloaded' }, 'down-b': { fault: 'server_error' }, up: {} },
      gateway: { health },
      observe: t.observer,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'sk-attr-provider-key-0123456789' } },
        routes: {
          outage: {
            targets: [{ provider: 'oai', model: 'down-a' }],
            fallbacks: [{ provider: 'oai', model: 'down-b' }],
            retries: { attempts: 0 },
            breaker: { consecutive_failures: 2, open_s: 600 },
          },
          healthy: { targets: [{ provider: 'oai', model: 'up' }] },
        },
      }),
    });
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await h.close();
    await t.shutdown();
    await c.close();
  });

  const post = (body: unknown) =>
    fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const chat = (model: string, content = 'hi') => ({ model, messages: [{ role: 'user', content }] });

  async function sli(route: string): Promise<{ requests: number; bad: number; failures: Record<string, number> }> {
    await t.flush();
    await c.batcher.flush();
    const [row] = await queryRows<{ requests: number; bad: number; failures: Record<string, number> }>(
      c.store.client,
      'SELECT toUInt32(sum(requests)) AS requests, toUInt32(sum(bad)) AS bad, sumMap(failures) AS failures FROM sli_1m WHERE route = {r:String}',
      { r: route },
    );
    return row ?? { requests: 0, bad: 0, failures: {} };
  }

  it('a full outage: all 200 failed requests are bad events, those no target could take are provider_unavailable', async () => {
    const classes: string[] = [];
    const attempts: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await post(chat('outage', `q${i}`));
      expect(res.status).toBeGreaterThanOrEqual(500);
      classes.push(res.headers.get('x-keel-error-class') ?? '');
      attempts.push(Number(res.headers.get('x-keel-attempts')));
      expect(res.headers.get('x-keel-retries')).toBe('0');
      expect(res.headers.get('x-keel-fallbacks')).not.toBeNull();
      await res.text();
    }
    // Two failures each opened both breakers; from then on no target was asked.
    expect(attempts.filter((n) => n > 0).length).toBeLessThanOrEqual(4);
    expect(classes.every((cls) => cls.startsWith('provider_'))).toBe(true);
    expect(classes.filter((cls) => cls === 'provider_unavailable').length).toBeGreaterThanOrEqual(196);
    const s = await sli('outage');
    expect(s.requests).toBe(200);
    expect(s.bad).toBe(200);
    expect(s.failures.provider_unavailable).toBeGreaterThanOrEqual(196);
    // What the SLO engine makes of it: every short window burns at the maximum, the page fires, the budget is overspent.
    const loop = new SloLoop({
      client: c.store.client,
      specs: () => [sloSpecSchema.parse({ name: 'outage-availability', objective: 99.5, window: '1d', sli: 'availability', scope: { route: 'outage' } })],
      alerting: () => alertingSchema.parse({ pending_s: 0, receivers: [] }),
      intervalMs: 30_000,
      now: () => Date.now(), // the minute in progress counts: no waiting for it to close
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
    });
    const snap = await loop.tick();
    await loop.stop();
    const ev = snap.results[0]?.evaluation;
    expect(ev?.bad).toBe(200);
    expect(ev?.remaining).toBeLessThan(0);
    expect(Math.max(...(ev?.pairs ?? []).map((p) => p.shortBurn))).toBeCloseTo(1 / 0.005, 6);
    expect(snap.firing.map((a) => a.kind)).toContain('page');
  });

  it("a caller's invalid bodies are neither good nor bad; they never reach a target", async () => {
    const before = h.sim.attemptsFor('up').length;
    for (let i = 0; i < 20; i++) {
      const res = await post({ model: 'healthy', messages: 'not a list' });
      expect(res.status).toBe(400);
      expect(res.headers.get('x-keel-error-class')).toBe('caller_invalid');
      expect(res.headers.get('x-keel-attempts')).toBe('0');
    }
    for (let i = 0; i < 5; i++) expect((await post(chat('healthy'))).status).toBe(200);
    expect(h.sim.attemptsFor('up').length - before).toBe(5);
    const s = await sli('healthy');
    expect(s.requests).toBe(25);
    expect(s.bad).toBe(0);
    expect(s.failures.caller_invalid).toBe(20);
  });

  it("Keel's own encoding failure is gateway_encode: a bad event of the route, never a target's", async () => {
    const before = h.sim.attemptsFor('up').length;
    const real = JSON.stringify;
    // A forced failure of the upstream encoding only (the marker is in the prompt), as a stack overflow would raise.
    vi.spyOn(JSON, 'stringify').mockImplementation(function (this: unknown, ...args: Parameters<typeof JSON.stringify>) {
      const text = real.apply(JSON, args);
      if (typeof text === 'string' && text.includes('FORCE-ENCODE-FAILURE') && text.includes('"model":"up"')) throw new RangeError('Maximum call stack size exceeded');
      return text;
    });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await post(chat('healthy', 'FORCE-ENCODE-FAILURE'));
        expect(res.status).toBe(500);
        expect(res.headers.get('x-keel-error-code')).toBe('KEEL_ENCODE_FAILED');
        expect(res.headers.get('x-keel-error-class')).toBe('gateway_encode');
        await res.text();
      }
    } finally {
      vi.restoreAllMocks();
    }
    expect(h.sim.attemptsFor('up').length - before).toBe(0);
    expect(health.breakers().find((b) => b.model === 'up')?.state).toBe('closed');
    expect((await post(chat('healthy'))).status).toBe(200);
    const s = await sli('healthy');
    expect(s.requests).toBe(25 + 6);
    expect(s.bad).toBe(5);
    expect(s.failures.gateway_encode).toBe(5);
  });
});
