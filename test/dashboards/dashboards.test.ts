import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { auditRow } from '../../collector/audit.js';
import { stamp, type AuditSink } from '../../config/audit.js';
import { alertingSchema, sloBlockSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { recordCanaryEvents, SloLoop, WeightsPublisher } from '../../slo/index.js';
import { DASHBOARDS, DATASOURCE } from '../../dashboards/src/index.js';
import { expandMacros, substituteVariables } from '../../dashboards/src/macros.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { queryRows } from '../../store/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

const jsonDir = resolve(import.meta.dirname, '../../dashboards/json');
const alertsDir = resolve(import.meta.dirname, '../../alerts');

interface Target {
  refId: string;
  datasource?: { uid?: string };
  rawSql?: string;
}

describe('Grafana macros, as the ClickHouse plugin expands them', () => {
  const t = { fromMs: 1_700_000_000_123, toMs: 1_700_003_600_456, intervalMs: 60_000 };
  it.each([
    ['$__timeFilter(ts)', 'ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600)'],
    ['$__timeFilter_ms(ts)', 'ts >= fromUnixTimestamp64Milli(1700000000123) AND ts <= fromUnixTimestamp64Milli(1700003600456)'],
    ['$__timeInterval(ts)', 'toStartOfInterval(toDateTime(ts), INTERVAL 60 second)'],
    ['$__fromTime / $__toTime', 'toDateTime(1700000000) / toDateTime(1700003600)'],
    ['x / $__interval_s', 'x / 60'],
  ])('%s', (sql, expanded) => expect(expandMacros(sql, t)).toBe(expanded));

  it('template variables: ${name} and $name, macros untouched', () => {
    expect(substituteVariables("route = '${route}' AND team = '$team' AND $__timeFilter(t)", { route: 'chat', team: 'search' })).toBe("route = 'chat' AND team = 'search' AND $__timeFilter(t)");
  });
});

describe('dashboards', () => {
  it('the provisioned JSON is exactly what the typed definitions produce (regenerate: UPDATE_GOLDEN=1)', () => {
    for (const [name, dashboard] of Object.entries(DASHBOARDS)) {
      const text = `${JSON.stringify(dashboard, null, 2)}\n`;
      const path = join(jsonDir, `${name}.json`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  it('every panel, target and variable uses only the provisioned datasource uid', () => {
    for (const d of Object.values(DASHBOARDS)) {
      for (const p of d.panels ?? []) {
        expect((p as { datasource?: { uid?: string } }).datasource?.uid).toBe(DATASOURCE.uid);
        for (const target of ((p as { targets?: Target[] }).targets ?? [])) expect(target.datasource?.uid).toBe(DATASOURCE.uid);
      }
      for (const v of d.templating?.list ?? []) expect(v.datasource?.uid).toBe(DATASOURCE.uid);
    }
  });
});

describe('every dashboard query on ClickHouse filled by real traffic', () => {
  let c: RunningCollector;
  let t: Telemetry;
  let h: Harness;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-dash-'));
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
    const health = new HealthRegistry();
    let probed = 0;
    t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => health.breakers(), spanFlushMs: 20, env: {} });
    h = await startHarness({
      behaviours: { 'gpt-up': { ttft_ms: 20, itl_ms: 5 }, 'flaky-up': { error_rate: 0.3 } },
      // An idle target under active health checks: probe_results (the Providers panels), never llm_requests or sli_1m.
      gateway: { health, onProbe: (r) => {
        probed++;
        t.probe(r);
      } },
      observe: t.observer,
      config: (url) => ({
        // A client key with a team and a customer, so the cost dashboard's key, team and customer dimensions are filled.
        auth: { keys: [{ id: 'search-app', key: 'search-app-key-0123456789abcdef', team: 'search', customer: 'acme' }] },
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' }, ant: { type: 'anthropic', base_url: url, api_key: 'k' } },
        routes: {
          'gpt-sim': { targets: [{ provider: 'oai', model: 'gpt-up', price: { input: 1, output: 2 } }] },
          cached: { targets: [{ provider: 'oai', model: 'gpt-up', price: { input: 1, output: 2 } }], cache: { ttl_s: 60 } },
          flaky: { targets: [{ provider: 'oai', model: 'flaky-up' }], fallbacks: [{ provider: 'ant', model: 'claude-up' }], retries: { attempts: 1, backoff_ms: 5, max_backoff_ms: 10 } },
          idle: { targets: [{ provider: 'oai', model: 'idle-up', health_check: { interval_s: 0.05 } }] },
        },
      }),
    });
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'search-app-key-0123456789abcdef', maxRetries: 0 });
    for (let i = 0; i < 20; i++) {
      const stream = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: `s${i}` }] });
      for await (const _ of stream) {
        // consume
      }
      await client.chat.completions.create({ model: 'flaky', messages: [{ role: 'user', content: `f${i}` }] });
    }
    // A cached route: a miss, then hits (the cache panels, cost saved).
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'cached', messages: [{ role: 'user', content: 'cached question' }] });
    while (probed < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setImmediate(r));
    await t.flush();
    await c.batcher.flush();
    // The SLO engine's tables, from the same traffic: evaluations (with a TTFT SLO strict enough to
    // fire), weights for the flaky route, and a canary step.
    const now = () => Date.now() + 60_000;
    // The SLO engine's audit events (the alert it fires, the canary step) fill the audit dashboard.
    const audited: Promise<void>[] = [];
    const audit: AuditSink = (events, at) => void audited.push(c.batcher.add({ audit_log: stamp({ source: 'collector', config: () => ({ version: 1, hash: 'dashboards' }) }, events, 'slo engine', at).map(auditRow) }));
    const loop = new SloLoop({
      audit,
      client: c.store.client,
      specs: () => [
        sloSpecSchema.parse({ name: 'gpt-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'gpt-sim' } }),
        sloSpecSchema.parse({ name: 'gpt-ttft', objective: 99.9, window: '1d', sli: { latency: 'ttft', threshold_ms: 25 }, scope: { route: 'gpt-sim' } }),
      ],
      alerting: () => alertingSchema.parse({ pending_s: 0 }),
      intervalMs: 30_000,
      now,
      generatorURL: '',
      log: () => undefined,
    });
    await loop.tick();
    const publisher = new WeightsPublisher({
      client: c.store.client,
      routes: () => ['flaky'],
      budget: () => 0.005,
      cfg: () => sloBlockSchema.parse({}).adaptive,
      canaries: () => [{ key: 'gpt-sim|oai|gpt-up', steps: [10, 100], stepMs: 0, gate: 2, minAttempts: 1 }],
      onCanary: recordCanaryEvents(c.store.client, () => undefined, audit),
      now,
    });
    await publisher.tick();
    await Promise.all(audited);
    await c.batcher.flush();
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await t.shutdown();
    await c.close();
  });

  // The SLO engine ran a minute ahead (so the current minute counts); the range reaches past it.
  const time = () => ({ fromMs: Date.now() - 3_600_000, toMs: Date.now() + 120_000, intervalMs: 60_000 });
  const run = (sql: string, vars: Record<string, string>) => queryRows<Record<string, unknown>>(c.store.client, expandMacros(substituteVariables(sql, vars), time()));

  for (const [name, d] of Object.entries(DASHBOARDS)) {
    const vars = Object.fromEntries((d.templating?.list ?? []).map((v) => [v.name, '__all__']));
    it(`${name}: template variable queries list the live values`, async () => {
      for (const v of d.templating?.list ?? []) {
        const rows = await run(typeof v.query === 'string' ? v.query : '', vars);
        expect(typeof v.query).toBe('string');
        expect(rows.length, v.name).toBeGreaterThan(0);
      }
    });
    for (const p of d.panels ?? []) {
      const panel = p as { title?: string; type?: string; targets?: Target[] };
      it(`${name}: "${panel.title ?? ''}" returns plausible rows`, async () => {
        for (const target of panel.targets ?? []) {
          const rows = await run(target.rawSql ?? '', vars);
          expect(rows.length).toBeGreaterThan(0);
          if (panel.type === 'timeseries') expect(Object.keys(rows[0] ?? {})).toContain('time');
          for (const row of rows) {
            for (const [col, value] of Object.entries(row)) {
              // Finite, and non-negative except budgets, which go below zero once overspent.
              if (typeof value === 'number') expect(Number.isFinite(value) && (value >= 0 || /budget/.test(col)), `${col} = ${value}`).toBe(true);
            }
          }
        }
      });
    }
  }

  it('every alert rule query in alerts/ runs on the same data and returns numbers', async () => {
    const files = readdirSync(alertsDir).filter((f) => f.endsWith('-rules.yaml'));
    let queries = 0;
    for (const f of files) {
      const doc = parse(readFileSync(join(alertsDir, f), 'utf8')) as { groups: { rules: { uid: string; data: { datasourceUid: string; relativeTimeRange?: { from: number }; model: { rawSql?: string } }[] }[] }[] };
      for (const rule of doc.groups.flatMap((g) => g.rules)) {
        for (const d of rule.data.filter((x) => x.datasourceUid !== '__expr__')) {
          const now = Date.now() + 60_000;
          const rows = await queryRows<Record<string, unknown>>(c.store.client, expandMacros(d.model.rawSql ?? '', { fromMs: now - (d.relativeTimeRange?.from ?? 0) * 1000, toMs: now, intervalMs: 60_000 }));
          expect(rows.length, rule.uid).toBeGreaterThan(0);
          expect(Object.values(rows[0] ?? {}).some((v) => typeof v === 'number' && Number.isFinite(v)), rule.uid).toBe(true);
          queries++;
        }
      }
    }
    expect(queries).toBeGreaterThanOrEqual(19);
  });

  const panelSql = (dashboard: string, title: string) =>
    ((DASHBOARDS[dashboard]?.panels ?? []).find((p) => (p as { title?: string }).title?.startsWith(title)) as { targets?: Target[] } | undefined)?.targets?.[0]?.rawSql ?? '';

  it('cost: spend per key, team and customer, and each budget scope counts the same spend in its periods', async () => {
    const all = { route: '__all__', team: '__all__', customer: '__all__' };
    const spend = await run(panelSql('cost-usage', 'Spend by key / team / customer'), all);
    expect(spend.map((r) => [r.key, r.team, r.customer])).toEqual([['search-app', 'search', 'acme']]);
    const usd = Number(spend[0]?.usd);
    expect(usd).toBeGreaterThan(0);
    const use = await run(panelSql('cost-usage', 'Budget use'), all);
    expect(use.map((r) => [r.scope, r.name]).sort()).toEqual([['customer', 'acme'], ['key', 'search-app'], ['team', 'search']]);
    for (const r of use) for (const col of ['today_usd', 'this_month_usd', 'last_24h_usd', 'last_30d_usd']) expect(Number(r[col]), `${String(r.scope)} ${col}`).toBeCloseTo(usd, 3);
    // Another customer selected: nothing of acme's.
    expect(await run(panelSql('cost-usage', 'Budget use'), { ...all, customer: 'globex' })).toEqual([]);
  });

  it('active health checks land in probe_results only: no request, attempt or SLI row (callers\' SLIs untouched)', async () => {
    const count = async (sql: string) => Number((await queryRows<{ n: string }>(c.store.client, sql))[0]?.n);
    expect(await count("SELECT count() AS n FROM probe_results WHERE provider = 'oai' AND model = 'idle-up' AND outcome = 'ok' AND method = 'chat'")).toBeGreaterThanOrEqual(2);
    expect(await count("SELECT count() AS n FROM otel_traces WHERE SpanName = 'keel.probe' AND SpanAttributes['keel.probe'] = 'true'")).toBeGreaterThanOrEqual(2);
    expect(await count("SELECT count() AS n FROM llm_requests WHERE request_model = 'idle-up' OR response_model = 'idle-up' OR route = ''")).toBe(0);
    expect(await count("SELECT count() AS n FROM llm_attempts WHERE model = 'idle-up'")).toBe(0);
    expect(await count("SELECT count() AS n FROM sli_1m WHERE model = 'idle-up' OR route = 'idle'")).toBe(0);
  });

  it('with a route selected, the overview only shows that route', async () => {
    const table = (DASHBOARDS['gateway-overview']?.panels ?? []).find((p) => (p as { title?: string }).title === 'Routes in the selected range') as { targets?: Target[] } | undefined;
    const rows = await run(table?.targets?.[0]?.rawSql ?? '', { route: 'flaky' });
    expect(rows.map((r) => r.route)).toEqual(['flaky']);
    const all = await run(table?.targets?.[0]?.rawSql ?? '', { route: '__all__' });
    expect(all.map((r) => r.route).sort()).toEqual(['cached', 'flaky', 'gpt-sim']);
    expect(all.find((r) => r.route === 'gpt-sim')?.total_requests).toBe(20);
  });
});
