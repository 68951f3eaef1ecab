import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { effectiveSlos } from '../../slo/index.js';
import { grafanaRules } from '../../slo/rules.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { Batcher, collectorMetrics, diskIo, Spool, type Row, type SpoolIo } from '../../collector/index.js';
import { evalMath, ruleFires, type Rule } from '../helpers/grafana-rules.js';
import { metricNames, parseExposition, promFires, type Samples } from '../helpers/prom-rules.js';

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

/** Prometheus rule files in alerts/prometheus/: the generated SLO rules and the collector's spool rules. */
interface PromRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const promDir = join(dir, 'prometheus');
const promFiles = readdirSync(promDir).filter((f) => f.endsWith('.yml')).map((f) => ({ file: f, doc: parse(readFileSync(join(promDir, f), 'utf8')) as { groups: { name: string; rules: PromRule[] }[] } }));
const spoolRules = (promFiles.find((f) => f.file === 'keel-collector.rules.yml')?.doc.groups ?? []).flatMap((g) => g.rules);

describe('Prometheus rule files', () => {
  it('every group is named; every rule records or alerts, with an expression; alerts carry a severity and a summary', () => {
    expect(promFiles.map((f) => f.file).sort()).toEqual(['keel-collector.rules.yml', 'keel-slo.rules.yml']);
    for (const { doc } of promFiles) {
      for (const g of doc.groups) {
        expect(g.name).toBeTruthy();
        for (const r of g.rules) {
          expect(Boolean(r.alert) !== Boolean(r.record)).toBe(true);
          expect(r.expr.length).toBeGreaterThan(0);
          if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
          if (r.alert !== undefined) expect([r.labels?.severity, Boolean(r.annotations?.summary)]).toEqual([expect.stringMatching(/^(page|ticket)$/), true]);
        }
      }
    }
  });

  describe('spool rules on a real collector batcher (ClickHouse up, down for an hour, back)', () => {
    const T0 = Date.parse('2026-12-01T10:00:00Z');
    let clock = T0;
    let up = true;
    let full = false;
    const io: SpoolIo = {
      writeDurable: (path, data) => (full ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : diskIo.writeDurable(path, data)),
      syncDir: diskIo.syncDir,
    };
    const spoolDir = mkdtempSync(join(tmpdir(), 'keel-prom-rules-'));
    const spool = new Spool(spoolDir, { io, now: () => clock });
    const insert = async (_table: string, _rows: Row[]) => {
      if (!up) throw new Error('ClickHouse is away');
    };
    const batcher = new Batcher(insert, spool, { batchRows: 10_000, flushMs: 3_600_000, maxQueueRows: 100_000, replayMs: 3_600_000, spoolMaxBytes: 40_000, now: () => clock });
    afterAll(() => batcher.close());
    const scrape = (): Samples => parseExposition(collectorMetrics(batcher));
    const firing = (before: Samples, now = scrape()) => spoolRules.filter((r) => promFires(r.expr, now, before)).map((r) => r.alert);
    /** One export a minute of ten ~100-byte rows, each flush failing while ClickHouse is away. */
    async function minutes(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        clock += 60_000;
        await batcher.add({ otel_traces: Array.from({ length: 10 }, (_, k) => ({ k, pad: 'x'.repeat(80) })) });
        await batcher.flush();
      }
    }

    it('every metric the rules read is one the collector exposes', () => {
      const exposed = Object.keys(scrape());
      for (const r of spoolRules) for (const name of metricNames(r.expr)) expect(exposed, `${r.alert ?? ''}: ${name}`).toContain(name);
    });

    it('quiet while ClickHouse keeps up', async () => {
      const before = scrape();
      await minutes(30);
      expect(firing(before)).toEqual([]);
    });

    it('an hour-long outage: filling, behind, then dropping; back to quiet once replayed', async () => {
      up = false;
      let before = scrape();
      await minutes(10);
      expect(firing(before)).toEqual([]);
      await minutes(12);
      expect(firing(before)).toEqual(['KeelCollectorSpoolFilling', 'KeelCollectorSpoolBehind']);
      before = scrape();
      await minutes(38);
      expect(firing(before)).toEqual(['KeelCollectorSpoolFilling', 'KeelCollectorSpoolBehind', 'KeelCollectorSpoolDropping']);
      up = true;
      await batcher.replay();
      before = scrape();
      expect(firing(before, before)).toEqual([]);
    });

    it('a disk that refuses writes, and a file that cannot be read back', async () => {
      let before = scrape();
      full = true;
      await expect(batcher.add({ otel_traces: [{ k: 1 }] })).rejects.toThrow(/ENOSPC/);
      full = false;
      expect(firing(before)).toEqual(['KeelCollectorSpoolWriteErrors']);
      before = scrape();
      writeFileSync(join(spoolDir, '000000000000001-torn.json'), '{"table":"otel_tr');
      await batcher.replay();
      expect(firing(before)).toEqual(['KeelCollectorSpoolQuarantine']);
    });

    it('a queue at its bound: exports refused (429) are counted, and the refusing alert reads them', async () => {
      const before = scrape();
      await expect(batcher.add({ otel_traces: Array.from({ length: 100_001 }, (_, k) => ({ k })) })).rejects.toThrow(/queue full/);
      expect(firing(before)).toEqual(['KeelCollectorRefusing']);
      expect(firing(scrape())).toEqual([]);
    });
  });
});
