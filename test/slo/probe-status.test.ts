import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema } from '../../config/slo-schema.js';
import { buildSloServer, SloLoop } from '../../slo/index.js';
import { probeStatus, statusText } from '../../slo/status.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';

/** The status API's health checks, from probe_results on embedded ClickHouse (the page renders this list: test/slo/status-page.test.ts). */
describe('status: last health check per target', () => {
  let store: Store;
  const now = Date.now();
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-probe-status-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    const probe = (msAgo: number, model: string, outcome: string, error_class = '') => ({ ts: String((now - msAgo) / 1000), provider: 'p', provider_name: 'p', model, method: 'chat', outcome, error_class, duration_ms: 12 });
    await insertRows(store.client, 'probe_results', [probe(180_000, 'fb', 'ok'), probe(120_000, 'fb', 'failed', 'provider_error'), probe(60_000, 'fb', 'failed', 'provider_error'), probe(60_000, 'idle', 'inconclusive', 'caller_rejected'), probe(30_000, 'idle', 'ok'), probe(50_000, 'odd', 'inconclusive', 'caller_rejected'), probe(2 * 3_600_000, 'gone', 'ok')]);
  }, 60_000);
  afterAll(() => store.close());

  it('the last result, when, how many, and the success ratio over conclusive probes of the last hour', async () => {
    expect(await probeStatus(store.client, now)).toEqual([
      { provider: 'p', model: 'fb', outcome: 'failed', errorClass: 'provider_error', at: new Date(now - 60_000).toISOString(), probes: 3, successRatio: 0.3333 },
      { provider: 'p', model: 'idle', outcome: 'ok', errorClass: '', at: new Date(now - 30_000).toISOString(), probes: 2, successRatio: 1 },
      { provider: 'p', model: 'odd', outcome: 'inconclusive', errorClass: 'caller_rejected', at: new Date(now - 50_000).toISOString(), probes: 1, successRatio: null },
    ]);
  });

  it('is part of /api/status', async () => {
    const loop = new SloLoop({ client: store.client, specs: () => [], alerting: () => alertingSchema.parse({}), intervalMs: 30_000, now: () => now, generatorURL: '', log: () => undefined });
    await loop.tick();
    const app = buildSloServer(loop, store.client);
    const res = await app.inject({ method: 'GET', url: '/api/status' });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ probes: { model: string }[] }>().probes.map((p) => p.model)).toEqual(['fb', 'idle', 'odd']);
    // `keel slo status` prints the same list.
    expect(statusText(res.json())).toContain(`Health checks: p fb failed (provider_error) at ${new Date(now - 60_000).toISOString()}; p idle ok at`);
    await app.close();
  });
});
