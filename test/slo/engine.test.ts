import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sloSpecSchema } from '../../config/slo-schema.js';
import { effectiveSlos } from '../../slo/defaults.js';
import { evaluateAll } from '../../slo/engine.js';
import { grafanaRules } from '../../slo/rules.js';
import { parse } from 'yaml';
import { insertRows, migrate, openStore, queryRows, type Store } from '../../store/index.js';
import { sloBlockSchema } from '../../config/slo-schema.js';

/**
 * Seeded data, injected clock: one day of traffic at 10 requests a minute; in the last
 * ten minutes half fail (provider errors), one caller fault a minute rides along (not
 * counted), and 3 of the 5 good streams a minute are slow. Every number below is worked
 * out by hand from that.
 */
const MIN = 60_000;
const now = Math.floor(Date.now() / MIN) * MIN;

function seed(): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  const row = (i: number, ok: boolean, errorClass: string, ttft: number | null) => ({
    // A decimal string: a JSON number would be read as raw DateTime64 ticks.
    Timestamp: String((now - i * MIN + 30_000) / 1000), route: 'chat', provider: 'p', response_model: 'm', key_id: '', team: '',
    stream: true, ok, error_class: errorClass, ttft_ms: ttft, duration_ms: 900, itl_count: 0, request_id: `r${rows.length}`,
  });
  for (let i = 1; i <= 1440; i++) {
    const incident = i <= 10;
    for (let k = 0; k < 10; k++) {
      const failed = incident && k < 5;
      const slow = incident && !failed && k < 8;
      rows.push(row(i, !failed, failed ? 'provider_error' : '', failed ? null : slow ? 800 : 200));
    }
    if (incident) rows.push(row(i, false, 'caller_invalid', null));
  }
  return rows;
}

describe('SLO evaluation from sli_1m', () => {
  let store: Store;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-slo-')), database: 'default' });
    // Nothing expires in the test: day-old rows stay.
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    await insertRows(store.client, 'llm_requests', seed());
  }, 60_000);
  afterAll(() => store.close());

  it('availability over one day: budget consumed and every burn-rate pair as computed by hand', async () => {
    const spec = sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } });
    // Evaluated in the seeded data's last minute (the open one, counted whole).
    const [r] = await evaluateAll(store.client, [spec], now - 40_000);
    const e = r?.evaluation;
    // 14 400 counted events (caller faults excluded), 50 bad; budget 1 % → 144 bad allowed.
    expect(e?.events).toBe(14_400);
    expect(e?.bad).toBe(50);
    expect(e?.consumed).toBeCloseTo(50 / 144, 9);
    expect(e?.sli).toBeCloseTo(1 - 50 / 14_400, 12);
    // Windows scaled to 1d: 2m/1m, 12m/1m, 48m/4m, 144m/12m.
    expect(e?.pairs.map((p) => [p.pair, Number(p.longBurn.toFixed(4)), Number(p.shortBurn.toFixed(4)), p.breaching])).toEqual([
      ['2m/1m', 50, 50, true],
      ['12m/1m', Number(((50 / 120) * 100).toFixed(4)), 50, true],
      ['48m/4m', Number(((50 / 480) * 100).toFixed(4)), 50, true],
      ['144m/12m', Number(((50 / 1440) * 100).toFixed(4)), Number(((50 / 120) * 100).toFixed(4)), true],
    ]);
    expect(e?.breaching).toEqual(['page', 'ticket']);
  });

  it('the generated Grafana rule queries run on ClickHouse and agree with the engine', async () => {
    const spec = sloSpecSchema.parse({ name: 'chat-availability', objective: 99, window: '1d', sli: 'availability', scope: { route: 'chat' } });
    const doc = parse(grafanaRules([spec], { datasourceUid: 'ch', folder: 'f' })) as { groups: { rules: { data: { refId: string; relativeTimeRange?: { from: number }; model: { rawSql?: string } }[] }[] }[] };
    const page = doc.groups[0]?.rules[0];
    for (const refId of ['L0', 'L1']) {
      const q = page?.data.find((d) => d.refId === refId);
      const from = now / 1000 - (q?.relativeTimeRange?.from ?? 0);
      // The Grafana plugin's expansion of $__timeFilter (standards.md §3.3).
      const sql = (q?.model.rawSql ?? '').replace('$__timeFilter(minute)', `minute >= toDateTime(${from}) AND minute <= toDateTime(${now / 1000})`);
      const [row] = await queryRows<{ burn: number }>(store.client, sql);
      // 2m: 10 of 20 bad; 12m: 50 of 120 bad; budget 1 %.
      expect(row?.burn).toBeCloseTo(refId === 'L0' ? 50 : (50 / 120) * 100, 6);
    }
  });

  it('TTFT latency SLI counts good streams under the threshold among successful ones', async () => {
    const spec = sloSpecSchema.parse({ name: 'chat-ttft', objective: 90, window: '1d', sli: { latency: 'ttft', threshold_ms: 500 }, scope: { route: 'chat' } });
    const [r] = await evaluateAll(store.client, [spec], now - 1);
    // Successful streams: 1430 × 10 + 10 × 5 = 14 350; slow ones: 10 × 3 = 30.
    expect(r?.evaluation.events).toBe(14_350);
    expect(r?.evaluation.bad).toBe(30);
    expect(r?.evaluation.consumed).toBeCloseTo(30 / (0.1 * 14_350), 9);
    const [row] = await queryRows<{ n: number; ts: number; events: number }>(store.client, "SELECT count() AS n, any(toUnixTimestamp64Milli(ts)) AS ts, any(events) AS events FROM slo_evaluations WHERE slo = 'chat-ttft'");
    expect(row).toEqual({ n: 1, ts: now - 1, events: 14_350 });
  });

  it('a scope that matches nothing has no events, full budget and no alerts', async () => {
    const spec = sloSpecSchema.parse({ name: 'other', objective: 99.9, sli: 'availability', scope: { route: 'nope' } });
    const [r] = await evaluateAll(store.client, [spec], now);
    expect(r?.evaluation).toMatchObject({ events: 0, sli: 1, remaining: 1, breaching: [] });
  });

  it('with none declared, each route gets an availability and a TTFT SLO', () => {
    const specs = effectiveSlos(sloBlockSchema.parse({}), ['chat', 'embed']);
    expect(specs.map((s) => s.name)).toEqual(['chat-availability', 'chat-ttft', 'embed-availability', 'embed-ttft']);
    expect(effectiveSlos(sloBlockSchema.parse({ defaults: false }), ['chat'])).toEqual([]);
  });
});
