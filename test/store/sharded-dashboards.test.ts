import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Dashboard } from '@grafana/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARDS, shardedDashboards } from '../../dashboards/src/index.js';
import { expandMacros, substituteVariables } from '../../dashboards/src/macros.js';
import { dataTables, insertRows, migrate, MIGRATIONS, openStore, queryRows, type Store } from '../../store/index.js';

const jsonDir = resolve(import.meta.dirname, '../../dashboards/json-sharded');
const SHARDED = shardedDashboards(DASHBOARDS, { cluster: 'keel', shards: 2, database: 'default' });
const TABLES = dataTables(MIGRATIONS.flatMap((m) => m.statements));

/** Every SQL text of a dashboard: panel targets and query variables. */
const sqlOf = (d: Dashboard): string[] => [
  ...(d.panels ?? []).flatMap((p) => ((p as { targets?: { rawSql?: string }[] }).targets ?? []).map((t) => t.rawSql ?? '')),
  ...(d.templating?.list ?? []).map((v) => (typeof v.query === 'string' ? v.query : '')),
];
const readFrom = (sql: string) => [...sql.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)/gi)].map((m) => m[1] ?? '');

describe('dashboards for a sharded store (dashboards/json-sharded)', () => {
  it('the data tables are what the migrations leave, the renamed metrics table under its new name', () => {
    expect(TABLES).toContain('otel_metrics_exponential_histogram');
    expect(TABLES).not.toContain('otel_metrics_exp_histogram');
    expect(TABLES).toEqual(expect.arrayContaining(['otel_traces', 'llm_requests', 'llm_attempts', 'sli_1m', 'slo_evaluations', 'alert_events', 'routing_weights', 'canary_state']));
  });

  it('the provisioned JSON is exactly what the rewrite produces (regenerate: UPDATE_GOLDEN=1)', () => {
    for (const [name, d] of Object.entries(SHARDED)) {
      const text = `${JSON.stringify(d, null, 2)}\n`;
      const path = join(jsonDir, `${name}.json`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8'), name).toBe(text);
    }
  });

  it('every table a query reads is a Distributed one, joins over them GLOBAL, and nothing else changed', () => {
    const providers = SHARDED['providers-routing'];
    expect(providers).toBeDefined();
    const joins = providers === undefined ? [] : sqlOf(providers).filter((q) => / JOIN \(/.test(q));
    expect(joins.length).toBe(1);
    expect(joins[0]).toContain('FROM llm_attempts_all GLOBAL INNER JOIN (SELECT');
    for (const [name, d] of Object.entries(SHARDED)) {
      const read = sqlOf(d).flatMap(readFrom).filter((t) => TABLES.includes(t.replace(/_all$/, '')));
      expect(read.length, name).toBeGreaterThan(0);
      for (const t of read) expect(t, name).toMatch(/_all$/);
      // Back to local names and plain joins, it is the single-node dashboard exactly.
      expect(JSON.parse(JSON.stringify(d).replace(/\b(FROM|JOIN) (\w+)_all\b/g, '$1 $2').replace(/GLOBAL /g, ''))).toEqual(JSON.parse(JSON.stringify(DASHBOARDS[name])));
    }
  });

  describe('every query runs (chDB: each `_all` a plain table standing in for the other shards)', () => {
    let store: Store;
    const now = Date.now();
    beforeAll(async () => {
      store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-sharded-dash-')), database: 'default' });
      await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
      for (const t of TABLES) await store.client.command({ query: `CREATE TABLE ${t}_all AS ${t}` });
      await insertRows(store.client, 'sli_1m_all', [{ minute: String(Math.floor(now / 60_000) * 60), route: 'chat', provider: 'oai', model: 'gpt-x', key_id: '', team: '', requests: 4, cost_usd: 0.25 }]);
    }, 60_000);
    afterAll(() => store.close());

    it('panels and variables, with rows only the Distributed table has', async () => {
      const time = { fromMs: now - 3_600_000, toMs: now + 60_000, intervalMs: 60_000 };
      for (const [name, d] of Object.entries(SHARDED)) {
        const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, '__all__']));
        for (const sql of sqlOf(d)) await expect(queryRows(store.client, expandMacros(substituteVariables(sql, vars), time)), `${name}: ${sql}`).resolves.toBeDefined();
      }
      const byModel = ((SHARDED['cost-usage']?.panels ?? []) as { title?: string; targets?: { rawSql?: string }[] }[]).find((p) => p.title === 'Cost by model')?.targets?.[0]?.rawSql ?? '';
      const rows = await queryRows<{ model: string; usd: number }>(store.client, expandMacros(substituteVariables(byModel, { route: '__all__', team: '__all__', customer: '__all__' }), time));
      expect(rows).toEqual([{ model: 'gpt-x', usd: 0.25, tokens_out: 0 }]);
    });
  });
});
