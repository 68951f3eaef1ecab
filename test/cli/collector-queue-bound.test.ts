import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelProcess } from '../helpers/procs.js';

/**
 * telemetry.collector.max_queue_ms travels from keel.yaml to the running collector's queue
 * (config → startCollector → Batcher): two real `keel collector` processes, one with the time
 * bound at 1 ms and one with it off (0), each given one export of 1,500 spans. Once that insert
 * is timed, the first holds its queue to the bound's floor (10,000 rows: collector/insert-pace.ts)
 * while the second keeps max_queue_rows, as /metrics says.
 */
const SPANS = 1_500;
const MAX_QUEUE_ROWS = 50_000;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const exportBody = (): string =>
  JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'queue-bound' } }] },
        scopeSpans: [{ spans: Array.from({ length: SPANS }, (_, i) => ({ traceId: hex(i + 1, 32), spanId: hex(i + 1, 16), name: 'chat', startTimeUnixNano: '1764583200000000000', endTimeUnixNano: '1764583200001000000' })) }],
      },
    ],
  });

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

async function collectorWith(maxQueueMs: number): Promise<KeelProcess> {
  const dir = mkdtempSync(join(tmpdir(), `keel-queue-bound-${maxQueueMs}-`));
  const yaml = [
    'providers:',
    '  sim: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", auth: none }',
    'routes:',
    '  chat: { targets: [{ provider: sim, model: m }] }',
    'telemetry:',
    `  collector: { max_queue_ms: ${maxQueueMs}, max_queue_rows: ${MAX_QUEUE_ROWS}, flush_ms: 200 }`,
    '',
  ];
  writeFileSync(join(dir, 'keel.yaml'), yaml.join('\n'));
  return startKeel(['collector', '--config', join(dir, 'keel.yaml'), '--port', '0', '--slo-port', '0'], dir, /listening on (http:\/\/\S+) \(OTLP/);
}

describe('telemetry.collector.max_queue_ms in keel.yaml reaches the collector process', () => {
  const collectors = new Map<number, KeelProcess>();
  beforeAll(async () => {
    for (const ms of [1, 0]) collectors.set(ms, await collectorWith(ms));
  }, 120_000);
  afterAll(async () => {
    for (const c of collectors.values()) await c.stop();
  });

  it.each([
    [1, 10_000],
    [0, MAX_QUEUE_ROWS],
  ])('max_queue_ms %i: after one timed insert the queue admits %i rows', async (ms, admits) => {
    const c = collectors.get(ms);
    if (c === undefined) throw new Error(`no collector for ${ms}`);
    // Before any insert there is no pace to go by: the row bound alone, either way.
    expect(await metric(c.url, 'keel_collector_queue_admit_rows')).toBe(MAX_QUEUE_ROWS);
    const res = await fetch(`${c.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: exportBody() });
    expect(res.status).toBe(200);
    await expect.poll(() => metric(c.url, 'keel_collector_inserted_rows_total'), { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(SPANS);
    expect(await metric(c.url, 'keel_collector_queue_admit_rows')).toBe(admits);
    expect(await metric(c.url, 'keel_collector_refused_queue_total')).toBe(0);
  }, 60_000);
});
