import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type CollectionResult, type Histogram, type MetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';

/**
 * The request path's counters and histograms, aggregated here and handed to the SDK's readers
 * (Prometheus, OTLP) as a MetricProducer (the SDK's extension point for metrics it does not
 * aggregate itself), cumulative like the SDK's own instruments, so /metrics and the OTLP
 * export read exactly as before.
 *
 * Why not the SDK's instruments: each add() or record() sorts and JSON-stringifies its
 * attributes to find the series and validates them again: 2.1 µs per counter add and 3.6 µs
 * per histogram record measured here, ~25 µs per request for Keel's eight (and 50 more
 * records for a 50-token stream's chunk gaps). Here a series is found by its attribute values
 * joined in the call site's fixed order, and a record is a bucket search and three additions.
 */

/** The SDK's default cardinality limit per instrument; past it, one overflow series as the SDK does. */
export const MAX_SERIES = 2000;
const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

interface Described {
  name: string;
  description: string;
  unit?: string;
}

/** Values joined with their keys: insertion order is the call site's, fixed per call site. */
function seriesKey(attrs: Attributes): string {
  let key = '';
  for (const k in attrs) key += `${k}\u0001${String(attrs[k])}\u0002`;
  return key;
}

class Series<T> {
  readonly #make: () => T;
  readonly byKey = new Map<string, { attributes: Attributes; startTime: HrTime; value: T }>();

  constructor(make: () => T) {
    this.#make = make;
  }

  get(attrs: Attributes): T {
    const key = seriesKey(attrs);
    const found = this.byKey.get(key);
    if (found !== undefined) return found.value;
    const overflow = this.byKey.size >= MAX_SERIES;
    const k = overflow ? 'overflow' : key;
    const existing = this.byKey.get(k);
    if (existing !== undefined) return existing.value;
    const s = { attributes: overflow ? OVERFLOW : { ...attrs }, startTime: hrTime(), value: this.#make() };
    this.byKey.set(k, s);
    return s.value;
  }
}

export interface LocalCounter {
  add(value: number, attrs: Attributes): void;
}

export interface LocalHistogram {
  record(value: number, attrs: Attributes): void;
  /** Each of `values` × `scale` into one series (a stream's chunk gaps): the series found once. */
  recordEach(values: readonly number[], scale: number, attrs: Attributes): void;
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

/** The bucket a value falls in: boundaries are inclusive upper bounds (OTel explicit-bucket histograms). */
export function bucketOf(boundaries: readonly number[], value: number): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= (boundaries[mid] ?? Number.POSITIVE_INFINITY)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class LocalMetrics implements MetricProducer {
  readonly #collectors: ((now: HrTime) => MetricData)[] = [];
  /** A reader keeps its SDK producer's resource; the same one here, so the two never disagree. */
  readonly #resource: Resource;

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  counter(d: Described): LocalCounter {
    const series = new Series(() => ({ n: 0 }));
    this.#collectors.push((endTime) => ({
      descriptor: { name: d.name, description: d.description, unit: d.unit ?? '', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints: [...series.byKey.values()].map((s) => ({ startTime: s.startTime, endTime, attributes: s.attributes, value: s.value.n })),
    }));
    return {
      add(value, attrs) {
        // Negative adds are ignored as the SDK ignores them; non-finite ones too (the SDK would make the series NaN for good).
        if (!(value >= 0) || !Number.isFinite(value)) return;
        series.get(attrs).n += value;
      },
    };
  }

  histogram(d: Described & { boundaries: readonly number[] }): LocalHistogram {
    const boundaries = [...d.boundaries];
    const series = new Series<HistogramState>(() => ({ counts: new Array<number>(boundaries.length + 1).fill(0), sum: 0, count: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY }));
    const point = (h: HistogramState): Histogram => ({ buckets: { boundaries, counts: [...h.counts] }, sum: h.sum, count: h.count, min: h.min, max: h.max });
    this.#collectors.push((endTime) => ({
      descriptor: { name: d.name, description: d.description, unit: d.unit ?? '', valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: [...series.byKey.values()].map((s) => ({ startTime: s.startTime, endTime, attributes: s.attributes, value: point(s.value) })),
    }));
    const add = (h: HistogramState, value: number) => {
      // Negative values are dropped as the SDK drops them; non-finite ones too (the SDK would make the sum infinite for good).
      if (!(value >= 0) || !Number.isFinite(value)) return;
      const i = bucketOf(boundaries, value);
      h.counts[i] = (h.counts[i] ?? 0) + 1;
      h.sum += value;
      h.count++;
      if (value < h.min) h.min = value;
      if (value > h.max) h.max = value;
    };
    return {
      record: (value, attrs) => add(series.get(attrs), value),
      recordEach(values, scale, attrs) {
        if (values.length === 0) return;
        const h = series.get(attrs);
        for (const v of values) add(h, v * scale);
      },
    };
  }

  collect(): Promise<CollectionResult> {
    const now = hrTime();
    // Instruments with no series yet are left out, as the SDK leaves out one never recorded.
    const metrics = this.#collectors.map((c) => c(now)).filter((m) => m.dataPoints.length > 0);
    return Promise.resolve({ resourceMetrics: { resource: this.#resource, scopeMetrics: [{ scope: { name: 'keel' }, metrics }] }, errors: [] });
  }
}
