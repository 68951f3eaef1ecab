/**
 * OTLP requests as the collector works with them, whatever the encoding: the
 * lowerCamelCase shape of OTLP/JSON, with ids as lowercase hex, 64-bit numbers as
 * decimal strings and enums as numbers (the protobuf decoder is told to produce
 * the same). Everything is optional: senders omit default values.
 */
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string | Uint8Array;
}
export interface KeyValue {
  key?: string;
  value?: AnyValue;
}
export interface Scope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}
export interface Resource {
  attributes?: KeyValue[];
}
export type Id = string | Uint8Array;
export type Nanos = string | number;

export interface Span {
  traceId?: Id;
  spanId?: Id;
  parentSpanId?: Id;
  traceState?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: Nanos;
  endTimeUnixNano?: Nanos;
  attributes?: KeyValue[];
  events?: { timeUnixNano?: Nanos; name?: string; attributes?: KeyValue[] }[];
  links?: { traceId?: Id; spanId?: Id; traceState?: string; attributes?: KeyValue[] }[];
  status?: { code?: number; message?: string };
}
export interface TracesRequest {
  resourceSpans?: { resource?: Resource; schemaUrl?: string; scopeSpans?: { scope?: Scope; schemaUrl?: string; spans?: Span[] }[] }[];
}

export interface Exemplar {
  filteredAttributes?: KeyValue[];
  timeUnixNano?: Nanos;
  asDouble?: number;
  asInt?: string | number;
  spanId?: Id;
  traceId?: Id;
}
interface PointBase {
  attributes?: KeyValue[];
  startTimeUnixNano?: Nanos;
  timeUnixNano?: Nanos;
  flags?: number;
  exemplars?: Exemplar[];
}
export interface NumberPoint extends PointBase {
  asDouble?: number;
  asInt?: string | number;
}
export interface HistogramPoint extends PointBase {
  count?: string | number;
  sum?: number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
  min?: number;
  max?: number;
}
export interface ExpHistogramPoint extends PointBase {
  count?: string | number;
  sum?: number;
  scale?: number;
  zeroCount?: string | number;
  positive?: { offset?: number; bucketCounts?: (string | number)[] };
  negative?: { offset?: number; bucketCounts?: (string | number)[] };
  min?: number;
  max?: number;
}
export interface SummaryPoint extends PointBase {
  count?: string | number;
  sum?: number;
  quantileValues?: { quantile?: number; value?: number }[];
}
export interface Metric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberPoint[] };
  sum?: { dataPoints?: NumberPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: { dataPoints?: HistogramPoint[]; aggregationTemporality?: number };
  exponentialHistogram?: { dataPoints?: ExpHistogramPoint[]; aggregationTemporality?: number };
  summary?: { dataPoints?: SummaryPoint[] };
}
export interface MetricsRequest {
  resourceMetrics?: { resource?: Resource; schemaUrl?: string; scopeMetrics?: { scope?: Scope; schemaUrl?: string; metrics?: Metric[] }[] }[];
}

export type Signal = 'traces' | 'metrics';
