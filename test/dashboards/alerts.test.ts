import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { effectiveSlos } from '../../slo/index.js';
import { grafanaRules } from '../../slo/rules.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { evalMath, ruleFires, type Rule } from '../helpers/grafana-rules.js';

/** The shipped Grafana alerting provisioning in alerts/: structure, and behaviour on seeded data. */
const dir = resolve(import.meta.dirname, '../../alerts');
const docs = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => ({ file: f, doc: parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown> }));
const groups = docs.flatMap(({ file, doc }) => ((doc.groups as { name: string; folder: string; interval: string; rules: Rule[] }[] | undefined) ?? []).map((g) => ({ file, ...g })));
const rules = groups.flatMap((g) => g.rules);

describe('alert provisioning files', () => {
  it('every file is apiVersion 1; rule groups have name, folder and interval', () => {
    for (const { doc } of docs) expect(doc.apiVersion).toBe(1);
    expect(groups.length).toBeGreaterThanOrEqual(2);
    for (const g of groups) {
      expect(g.name).toBeTruthy();
      expect(g.folder).toBeTruthy();
      expect(g.interval).toMatch(/^\d+[smh]$/);
    }
  });

  it('every rule has a unique uid, a title, a valid for, a condition among its refIds, and only known datasources', () => {
    expect(new Set(rules.map((r) => r.uid)).size).toBe(rules.length);
    for (const r of rules) {
      expect(r.uid.length).toBeLessThanOrEqual(40);
      expect(r.title).toBeTruthy();
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      expect(r.data.map((d) => d.refId)).toContain(r.condition);
      for (const d of r.data) {
        expect(['keel-clickhouse', '__expr__']).toContain(d.datasourceUid);
        if (d.datasourceUid !== '__expr__') {
          // Seconds, as integers, and never 0/0 (Grafana rejects that at load time).
          expect(Number.isInteger(d.relativeTimeRange?.from)).toBe(true);
          expect(d.relativeTimeRange?.from).toBeGreaterThan(0);
          expect(d.model.rawSql).toMatch(/\$__timeFilter\(/);
        }
      }
    }
  });

  it('contact points come from environment variables and the policy routes to them', () => {
    const cp = docs.find((d) => d.file === 'contact-points.yaml')?.doc as { contactPoints: { name: string; receivers: { uid: string; type: string; settings: Record<string, string> }[] }[]; policies: { receiver: string }[] };
    const names = cp.contactPoints.map((c) => c.name);
    expect(cp.policies.every((p) => names.includes(p.receiver))).toBe(true);
    for (const r of cp.contactPoints.flatMap((c) => c.receivers)) {
      expect(r.uid && r.type).toBeTruthy();
      expect(r.settings.url).toMatch(/^\$\{KEEL_[A-Z_]+\}$/);
    }
  });

  it('keel-slo-rules.yaml is what `keel slo rules alerts` makes of keel.example.yaml', () => {
    const config = loadConfigFile(resolve(dir, '../keel.example.yaml'), { ...providerRules, env: { OPENAI_API_KEY: 'x', ANTHROPIC_API_KEY: 'y', KEEL_KEY_SEARCH: 'search-app-key-0123456789abcdef' } });
    const expected = grafanaRules(effectiveSlos(config.slo, Object.keys(config.routes)), { datasourceUid: 'keel-clickhouse', folder: 'Keel SLOs' });
    expect(readFileSync(join(dir, 'keel-slo-rules.yaml'), 'utf8')).toBe(expected);
  });

  it('the math subset evaluates like Grafana', () => {
    expect(evalMath('($A > 14.4 && $B > 14.4) || ($C > 6 && $D > 6)', { A: 20, B: 15, C: 0, D: 0 })).toBe(1);
    expect(evalMath('($A > 14.4 && $B > 14.4) || ($C > 6 && $D > 6)', { A: 20, B: 1, C: 7, D: 5 })).toBe(0);
  });
});

describe('rules on seeded data', () => {
  const MIN = 60_000;
  const T0 = Math.floor(Date.now() / MIN) * MIN;
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-rules-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    // Two days of healthy chat traffic up to 8 hours after T0; in the hour before T0 every
    // stream is slow (TTFT 3 s), and in its last ten minutes half the requests fail.
    const rows: Record<string, unknown>[] = [];
    const attempts: Record<string, unknown>[] = [];
    for (let m = -2 * 24 * 60; m < 8 * 60; m += m < -120 || m > 10 ? 10 : 1) {
      // minute-resolution around the incident, every 10 minutes elsewhere
      const incident = m >= -10 && m < 0;
      const slow = m >= -60 && m < 0;
      for (let k = 0; k < 10; k++) {
        const bad = incident && k < 5;
        const ts = String((T0 + m * MIN + 30_000 + k) / 1000);
        rows.push({ Timestamp: ts, route: 'chat', provider: 'oai', response_model: 'gpt', stream: true, ok: !bad, error_class: bad ? 'provider_error' : '', ttft_ms: bad ? null : slow ? 3000 : 200, duration_ms: 500, request_id: `r${rows.length}` });
        attempts.push({ Timestamp: ts, route: 'chat', provider: 'oai', model: 'gpt', ok: !bad, error_class: bad ? 'provider_error' : '', request_id: `a${attempts.length}` });
      }
    }
    await insertRows(store.client, 'llm_requests', rows);
    await insertRows(store.client, 'llm_attempts', attempts);
  }, 60_000);
  afterAll(() => store.close());

  const burnRules = () => rules.filter((r) => r.uid.startsWith('keel-chat-'));

  it('the shipped burn-rate rules fire during the incident', async () => {
    expect(burnRules().map((r) => r.uid)).toEqual(['keel-chat-availability-page', 'keel-chat-availability-ticket', 'keel-chat-ttft-page', 'keel-chat-ttft-ticket']);
    for (const r of burnRules()) expect(await ruleFires(store.client, r, T0), r.uid).toBe(true);
  });

  it('and stay quiet on healthy data, once the incident is out of their short windows', async () => {
    for (const r of burnRules()) expect(await ruleFires(store.client, r, T0 + 7 * 60 * MIN), r.uid).toBe(false);
  });

  it('provider error spike fires during the incident only; telemetry absent fires only without traffic', async () => {
    const byUid = (uid: string) => rules.find((r) => r.uid === uid) as Rule;
    expect(await ruleFires(store.client, byUid('keel-provider-error-spike'), T0)).toBe(true);
    expect(await ruleFires(store.client, byUid('keel-provider-error-spike'), T0 + 60 * MIN)).toBe(false);
    expect(await ruleFires(store.client, byUid('keel-telemetry-absent'), T0)).toBe(false);
    expect(await ruleFires(store.client, byUid('keel-telemetry-absent'), T0 + 9 * 60 * MIN)).toBe(true);
    // 15 minutes into the slow hour, TTFT p95 is far above the day's; an hour after it, not.
    expect(await ruleFires(store.client, byUid('keel-ttft-regression'), T0 - 45 * MIN)).toBe(true);
    expect(await ruleFires(store.client, byUid('keel-ttft-regression'), T0 + 60 * MIN)).toBe(false);
  });
});
