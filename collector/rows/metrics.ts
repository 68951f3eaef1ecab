import type { Exemplar, Metric, MetricsRequest, NumberPoint, Scope } from '../otlp/types.js';
import { attributeMap, hexId, nanosToDateTime64 } from './values.js';

export type MetricTable = 'otel_metrics_gauge' | 'otel_metrics_sum' | 'otel_metrics_histogram' | 'otel_metrics_exponential_histogram' | 'otel_metrics_summary';
export type MetricRows = Record<MetricTable, Record<string, unknown>[]>;

interface Common {
  ResourceAttributes: Record<string, string>;
  ResourceSchemaUrl: string;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: Record<string, string>;
  ScopeDroppedAttrCount: number;
  ScopeSchemaUrl: string;
  ServiceName: string;
  MetricName: string;
  MetricDescription: string;
  MetricUnit: string;
}

const num = (v: string | number | undefined): number => Number(v ?? 0);
const numberValue = (p: { asDouble?: number; asInt?: string | number }): number => (p.asDouble !== undefined ? p.asDouble : num(p.asInt));

function point(p: { attributes?: NumberPoint['attributes']; startTimeUnixNano?: string | number; timeUnixNano?: string | number; flags?: number }) {
  return {
    Attributes: attributeMap(p.attributes),
    StartTimeUnix: nanosToDateTime64(p.startTimeUnixNano),
    TimeUnix: nanosToDateTime64(p.timeUnixNano),
    Flags: p.flags ?? 0,
  };
}

function exemplars(list: Exemplar[] | undefined) {
  const ex = list ?? [];
  return {
    'Exemplars.FilteredAttributes': ex.map((e) => attributeMap(e.filteredAttributes)),
    'Exemplars.TimeUnix': ex.map((e) => nanosToDateTime64(e.timeUnixNano)),
    'Exemplars.Value': ex.map(numberValue),
    'Exemplars.SpanId': ex.map((e) => hexId(e.spanId)),
    'Exemplars.TraceId': ex.map((e) => hexId(e.traceId)),
  };
}

function addMetric(out: MetricRows, m: Metric, c: Common): number {
  for (const p of m.gauge?.dataPoints ?? []) out.otel_metrics_gauge.push({ ...c, ...point(p), Value: numberValue(p), ...exemplars(p.exemplars) });
  for (const p of m.sum?.dataPoints ?? []) {
    out.otel_metrics_sum.push({ ...c, ...point(p), Value: numberValue(p), AggregationTemporality: m.sum?.aggregationTemporality ?? 0, IsMonotonic: m.sum?.isMonotonic ?? false, ...exemplars(p.exemplars) });
  }
  for (const p of m.histogram?.dataPoints ?? []) {
    out.otel_metrics_histogram.push({
      ...c, ...point(p), Count: num(p.count), Sum: p.sum ?? 0, BucketCounts: (p.bucketCounts ?? []).map(num), ExplicitBounds: p.explicitBounds ?? [],
      Min: p.min ?? 0, Max: p.max ?? 0, AggregationTemporality: m.histogram?.aggregationTemporality ?? 0, ...exemplars(p.exemplars)
    });
  }
  for (const p of m.exponentialHistogram?.dataPoints ?? []) {
    out.otel_metrics_exponential_histogram.push({
      ...c, ...point(p), Count: num(p.count), Sum: p.sum ?? 0, Scale: p.scale ?? 0, ZeroCount: num(p.zeroCount),
      PositiveOffset: p.positive?.offset ?? 0, PositiveBucketCounts: (p.positive?.bucketCounts ?? []).map(num),
      NegativeOffset: p.negative?.offset ?? 0, NegativeBucketCounts: (p.negative?.bucketCounts ?? []).map(num),
      Min: p.min ?? 0, Max: p.max ?? 0, AggregationTemporality: m.exponentialHistogram?.aggregationTemporality ?? 0, ...exemplars(p.exemplars)
    });
  }
  for (const p of m.summary?.dataPoints ?? []) {
    out.otel_metrics_summary.push({
      ...c, ...point(p), Count: num(p.count), Sum: p.sum ?? 0,
      'ValueAtQuantiles.Quantile': (p.quantileValues ?? []).map((q) => q.quantile ?? 0), 'ValueAtQuantiles.Value': (p.quantileValues ?? []).map((q) => q.value ?? 0)
    });
  }
  const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.summary;
  return data?.dataPoints?.length ?? 0;
}

function common(resource: Record<string, string>, resourceSchema: string, scope: Scope, scopeSchema: string, m: Metric): Common {
  return {
    ResourceAttributes: resource,
    ResourceSchemaUrl: resourceSchema,
    ScopeName: scope.name ?? '',
    ScopeVersion: scope.version ?? '',
    ScopeAttributes: attributeMap(scope.attributes),
    ScopeDroppedAttrCount: scope.droppedAttributesCount ?? 0,
    ScopeSchemaUrl: scopeSchema,
    ServiceName: resource['service.name'] ?? '',
    MetricName: m.name ?? '',
    MetricDescription: m.description ?? '',
    MetricUnit: m.unit ?? '',
  };
}

/** An export request → rows per metrics table. Returns the data point count. */
export function metricRows(req: MetricsRequest): { rows: MetricRows; points: number } {
  const rows: MetricRows = { otel_metrics_gauge: [], otel_metrics_sum: [], otel_metrics_histogram: [], otel_metrics_exponential_histogram: [], otel_metrics_summary: [] };
  let points = 0;
  for (const rm of req.resourceMetrics ?? []) {
    const resource = attributeMap(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) points += addMetric(rows, m, common(resource, rm.schemaUrl ?? '', sm.scope ?? {}, sm.schemaUrl ?? '', m));
    }
  }
  return { rows, points };
}
