import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { effectiveSlos } from '../../slo/index.js';
import { grafanaRules, rulesForLayout } from '../../slo/rules.js';
import { dataTables, migrate, MIGRATIONS, openStore, type Store } from '../../store/index.js';
import type { StoreLayout } from '../../store/layout.js';
import { ruleFires, type Rule } from '../helpers/grafana-rules.js';

/**
 * Alert rules for a store of several shards (issue 14 §4): the Grafana rules shipped in
 * alerts/sharded/ read the `_all` Distributed tables, as dashboards/json-sharded/ do, and are
 * exactly what the rewrite makes of the single-node files (regenerate: UPDATE_GOLDEN=1).
 */
const alerts = resolve(import.meta.dirname, '../../alerts');
const SHARDED: StoreLayout = { cluster: 'keel', shards: 2, database: 'default' };
const TABLES = dataTables(MIGRATIONS.flatMap((m) => m.statements));
const HEADER = '# Generated from alerts/keel-health-rules.yaml for a store of several shards (every table `_all`). Do not edit: regenerate (UPDATE_GOLDEN=1 npx vitest run test/store/sharded-rules.test.ts).';

function expected(): Record<string, string> {
  const config = loadConfigFile(resolve(alerts, '../keel.example.yaml'), { ...providerRules, env: { OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'y', KEEL_KEY_SEARCH: 'search-app-key-0123456789abcdef' } });
  return {
    'keel-health-rules.yaml': rulesForLayout(readFileSync(join(alerts, 'keel-health-rules.yaml'), 'utf8'), SHARDED, HEADER),
    'keel-slo-rules.yaml': grafanaRules(effectiveSlos(config.slo, Object.keys(config.routes)), { datasourceUid: 'keel-clickhouse', folder: 'Keel SLOs', layout: SHARDED }),
  };
}

const rulesOf = (text: string): Rule[] => ((parse(text) as { groups: { rules: Rule[] }[] }).groups ?? []).flatMap((g) => g.rules);
const sqlOf = (r: Rule): string[] => r.data.flatMap((d) => (d.model.rawSql === undefined ? [] : [d.model.rawSql]));

describe('alert rules for a sharded store (alerts/sharded)', () => {
  const files = expected();

  it('are exactly what the rewrite produces', () => {
    for (const [name, text] of Object.entries(files)) {
      const path = join(alerts, 'sharded', name);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8'), name).toBe(text);
    }
  });

  it('read only Distributed tables, and are the single-node rules otherwise', () => {
    for (const [name, text] of Object.entries(files)) {
      const read = rulesOf(text).flatMap(sqlOf).flatMap((q) => [...q.matchAll(/\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)/gi)].map((m) => m[1] ?? ''));
      expect(read.length, name).toBeGreaterThan(0);
      for (const t of read.filter((x) => TABLES.includes(x.replace(/_all$/, '')))) expect(t, name).toMatch(/_all$/);
      const single = readFileSync(join(alerts, name), 'utf8');
      expect(rulesOf(text.replace(/\b(FROM|JOIN) (\w+)_all\b/g, '$1 $2').replace(/GLOBAL /g, ''))).toEqual(rulesOf(single));
    }
  });

  describe('evaluate on chDB (each `_all` a plain table standing in for the shards)', () => {
    let store: Store;
    beforeAll(async () => {
      store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-sharded-rules-')), database: 'default' });
      await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
      for (const t of TABLES) await store.client.command({ query: `CREATE TABLE ${t}_all AS ${t}` });
    }, 60_000);
    afterAll(() => store.close());

    it('every rule runs and, on empty tables, only telemetry-absent fires', async () => {
      const now = Date.now();
      for (const r of Object.values(files).flatMap(rulesOf)) {
        expect(await ruleFires(store.client, r, now), r.uid).toBe(r.uid === 'keel-telemetry-absent');
      }
    });
  });
});
