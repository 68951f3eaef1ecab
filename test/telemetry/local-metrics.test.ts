import type { Attributes } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, LocalMetrics, MAX_SERIES } from '../../gateway/telemetry/local-metrics.js';

const BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28];
type Op = { kind: 'add' | 'record'; value: number; attrs: Attributes };

/** The same operations through the SDK's own instruments and through LocalMetrics, each rendered by the Prometheus serializer. */
async function both(ops: Op[]): Promise<[string, string]> {
  const resource = resourceFromAttributes({ 'service.name': 't' });
  const sdkReader = new PrometheusExporter({ preventServerStart: true });
  const sdk = new MeterProvider({ resource, readers: [sdkReader] });
  const meter = sdk.getMeter('keel');
  const c = meter.createCounter('keel.requests', { description: 'd' });
  const h = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's', description: 'h', advice: { explicitBucketBoundaries: BOUNDS } });
  const local = new LocalMetrics(resource);
  const localReader = new PrometheusExporter({ preventServerStart: true, metricProducers: [local] });
  const localProvider = new MeterProvider({ resource, readers: [localReader] });
  const lc = local.counter({ name: 'keel.requests', description: 'd' });
  const lh = local.histogram({ name: 'gen_ai.client.operation.duration', unit: 's', description: 'h', boundaries: BOUNDS });
  for (const op of ops) {
    if (op.kind === 'add') {
      c.add(op.value, op.attrs);
      lc.add(op.value, op.attrs);
    } else {
      h.record(op.value, op.attrs);
      lh.record(op.value, op.attrs);
    }
  }
  const render = async (r: PrometheusExporter) => new PrometheusSerializer().serialize((await r.collect()).resourceMetrics);
  const out: [string, string] = [await render(sdkReader), await render(localReader)];
  await sdk.shutdown();
  await localProvider.shutdown();
  return out;
}

// Series lines in a stable order (the two producers may list series in different orders).
const lines = (text: string) => text.split('\n').filter((l) => l !== '').sort();

describe('LocalMetrics', () => {
  it('renders on /metrics exactly as the SDK instruments do, for any values and attribute sets (property)', async () => {
    const attrs = fc.record({ 'keel.route': fc.constantFrom('a', 'b', 'c'), 'http.response.status_code': fc.constantFrom(200, 429, 502) });
    const op = fc.record({ kind: fc.constantFrom<'add' | 'record'>('add', 'record'), value: fc.oneof(fc.double({ min: 0, max: 3, noNaN: true }), fc.constantFrom(0, 0.01, 0.02, 1.28, 5)), attrs });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const [sdk, local] = await both(ops);
        expect(lines(local)).toEqual(lines(sdk));
      }),
      { numRuns: 60 },
    );
  });

  it('ignores negative values as the SDK does, and non-finite ones where the SDK would poison the series', async () => {
    const at = (value: number): Op[] => [
      { kind: 'add', value, attrs: { 'keel.route': 'a' } },
      { kind: 'record', value, attrs: { 'keel.route': 'a' } },
    ];
    const [sdk, local] = await both([...at(-1), ...at(2)]);
    expect(lines(local)).toEqual(lines(sdk));
    const [sdkPoisoned, kept] = await both([...at(Number.NaN), ...at(Number.POSITIVE_INFINITY), ...at(2)]);
    expect(sdkPoisoned).toMatch(/^keel_requests_total\{keel_route="a",otel_scope_name="keel"\} NaN$/m);
    expect(kept).toMatch(/^keel_requests_total\{keel_route="a",otel_scope_name="keel"\} 2$/m);
    expect(kept).toMatch(/^gen_ai_client_operation_duration_sum\{keel_route="a",otel_scope_name="keel"\} 2$/m);
    expect(kept).toMatch(/^gen_ai_client_operation_duration_count\{keel_route="a",otel_scope_name="keel"\} 1$/m);
  });

  it('caps series per instrument at the SDK default and counts the rest in one overflow series', async () => {
    const local = new LocalMetrics(resourceFromAttributes({}));
    const c = local.counter({ name: 'keel.requests', description: 'd' });
    for (let i = 0; i < MAX_SERIES + 50; i++) c.add(1, { 'keel.route': `r${i}` });
    const { resourceMetrics } = await local.collect();
    const points = resourceMetrics.scopeMetrics[0]?.metrics[0]?.dataPoints ?? [];
    expect(points).toHaveLength(MAX_SERIES + 1);
    const overflow = points.find((p) => p.attributes['otel.metric.overflow'] === true);
    expect(overflow?.value).toBe(50);
  });

  it('puts a value on a boundary in that boundary’s bucket (inclusive upper bounds)', () => {
    expect(bucketOf(BOUNDS, 0)).toBe(0);
    expect(bucketOf(BOUNDS, 0.01)).toBe(0);
    expect(bucketOf(BOUNDS, 0.010001)).toBe(1);
    expect(bucketOf(BOUNDS, 1.28)).toBe(7);
    expect(bucketOf(BOUNDS, 99)).toBe(8);
  });
});
