import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sloBlockSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { evaluateSlo } from '../../slo/engine.js';
import { providerHealth } from '../../slo/status.js';
import { WeightsPublisher } from '../../slo/publisher.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { setLayout, SINGLE_NODE } from '../../store/layout.js';

/**
 * On a sharded cluster each shard holds only the rows its collectors wrote, so the SLO engine,
 * the status page and the weights publisher must read the `<table>_all` Distributed tables.
 * chDB has no cluster: here each `_all` is a plain table holding rows the local one lacks
 * (standing in for the other shards), so a reader shows which name it used.
 */
describe('the read side follows the store layout (one table-name function)', () => {
  let store: Store;
  const now = Date.now();
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-sharded-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    for (const t of ['sli_1m', 'llm_attempts', 'routing_weights', 'canary_state']) await store.client.command({ query: `CREATE TABLE ${t}_all AS ${t}` });
    const minute = String(Math.floor(now / 60_000) * 60);
    await insertRows(store.client, 'sli_1m_all', [{ minute, route: 'chat', provider: 'oai', model: 'm', key_id: '', team: '', requests: 10, bad: 2, failures: { ok: 8, provider_error: 2 } }]);
    await insertRows(store.client, 'llm_attempts_all', [{ Timestamp: String(now / 1000 - 1), route: 'chat', provider: 'oai', model: 'm', ok: true, duration_ms: 5 }]);
    await insertRows(store.client, 'routing_weights_all', [{ ts: String(now / 1000), version: 'w-7', route: 'chat', provider: 'oai', model: 'm', multiplier: 0.5, reason: 'burn' }]);
  }, 60_000);
  afterAll(() => store.close());

  const spec = sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1h', sli: 'availability', scope: { route: 'chat' } });
  const publisher = () => new WeightsPublisher({ client: store.client, routes: () => ['chat'], budget: () => 0.01, cfg: () => sloBlockSchema.parse({}).adaptive });

  it('single node: the local tables (empty here)', async () => {
    setLayout(store.client, SINGLE_NODE);
    expect((await evaluateSlo(store.client, spec, now)).evaluation.events).toBe(0);
    expect(await providerHealth(store.client, now)).toEqual([]);
    const p = publisher();
    await p.load();
    expect(p.snapshot.version).not.toBe('w-7');
  });

  it('sharded: the Distributed tables, for SLIs, provider health and published weights', async () => {
    setLayout(store.client, { cluster: 'keel', shards: 2, database: 'default' });
    const r = await evaluateSlo(store.client, spec, now);
    expect([r.evaluation.events, r.evaluation.bad]).toEqual([10, 2]);
    expect((await providerHealth(store.client, now)).map((h) => [h.provider, h.attempts])).toEqual([['oai', 1]]);
    const p = publisher();
    await p.load();
    expect(p.snapshot).toMatchObject({ version: 'w-7', multipliers: { 'chat|oai|m': 0.5 } });
  });
});
