import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { sloSpecSchema } from '../../config/slo-schema.js';
import { grafanaRules, prometheusRules } from '../../slo/rules.js';

/** Golden files: regenerate with UPDATE_GOLDEN=1 after a deliberate change, and review the diff. */
const golden = resolve(import.meta.dirname, '../golden');
const specs = [
  sloSpecSchema.parse({ name: 'chat-availability', objective: 99.9, window: '30d', sli: 'availability', scope: { route: 'chat' } }),
  sloSpecSchema.parse({ name: 'chat-ttft', objective: 95, window: '28d', sli: { latency: 'ttft', threshold_ms: 1500 }, scope: { route: 'chat' } }),
];

function matchGolden(name: string, text: string): void {
  const path = join(golden, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

describe('generated alert rules', () => {
  it('Grafana provisioning: one rule per SLO and severity, multi-window math over ClickHouse queries', () => {
    const text = grafanaRules(specs, { datasourceUid: 'clickhouse', folder: 'Keel SLOs' });
    matchGolden('grafana-slo-rules.yaml', text);
    const doc = parse(text) as { apiVersion: number; groups: { interval: string; rules: { uid: string; condition: string; data: { refId: string; datasourceUid: string; relativeTimeRange?: { from: number; to: number }; model: Record<string, unknown> }[] }[] }[] };
    expect(doc.apiVersion).toBe(1);
    const rules = doc.groups[0]?.rules ?? [];
    expect(rules.map((r) => r.uid)).toEqual(['keel-chat-availability-page', 'keel-chat-availability-ticket', 'keel-chat-ttft-page', 'keel-chat-ttft-ticket']);
    for (const r of rules) {
      const refs = r.data.map((d) => d.refId);
      expect(new Set(refs).size).toBe(refs.length);
      expect(refs).toContain(r.condition);
      // Datasource queries need a real range (Grafana rejects 0/0); expressions use __expr__.
      for (const d of r.data.filter((x) => x.datasourceUid !== '__expr__')) expect(d.relativeTimeRange?.from).toBeGreaterThan(0);
    }
    const page = rules[0]?.data.find((d) => d.refId === 'C')?.model.expression;
    expect(page).toBe('($L0r > 14.4 && $S0r > 14.4) || ($L1r > 6 && $S1r > 6)');
    expect(rules[0]?.data[0]?.relativeTimeRange).toEqual({ from: 3600, to: 0 });
    expect(rules[2]?.data[0]?.relativeTimeRange).toEqual({ from: 3360, to: 0 }); // 28d scales 1h to 56m
  });

  it('Prometheus rules: availability SLOs as Sloth-style recordings and alerts', () => {
    const text = prometheusRules(specs);
    matchGolden('prometheus-slo-rules.yml', text);
    const doc = parse(text) as { groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[] };
    expect(doc.groups.map((g) => g.name)).toEqual(['keel-slo-chat-availability']);
    const page = doc.groups[0]?.rules.find((r) => r.alert !== undefined && r.expr.includes('rate1h'));
    expect(page?.expr).toContain('keel:slo_error_ratio:rate1h{slo="chat-availability"} > (14.4 * 0.001) and keel:slo_error_ratio:rate5m{slo="chat-availability"} > (14.4 * 0.001)');
  });
});
