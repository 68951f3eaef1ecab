import type { HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { writeAttributes } from './values.js';
import { ProtoWriter } from './writer.js';

/**
 * ReadableSpan[] → OTLP ExportTraceServiceRequest (trace.proto), byte-identical to
 * ProtobufTraceSerializer.serializeRequest of @opentelemetry/otlp-transformer 0.223
 * (trace-serializer.js): spans grouped by resource then scope object identity, in first-seen
 * order; every field the SDK writes, in its order, with its "skip if empty" rules.
 * test/telemetry/otlp-encoder.test.ts holds the two side by side on arbitrary spans.
 */

/** Length reserves: what a Keel span (~1-2 KB) and a group of 32 (~50 KB) need; a miss only moves bytes. */
const SPAN_RESERVE = 2;
const GROUP_RESERVE = 3;

const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
export const spanFlags = (traceFlags: number, isRemote: boolean | undefined): number => (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);

/** HrTime → fixed64 nanoseconds, split as the SDK splits it (exact past 2^53, wrapping past uint64). */
export function writeTime(w: ProtoWriter, t: HrTime): void {
  const [seconds, nanos] = t;
  const lowSeconds = seconds & 0xffff;
  const highSeconds = (seconds / 0x10000) >>> 0;
  const fromLow = lowSeconds * 1e9;
  const fromHigh = highSeconds * 1e9;
  const low = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
  const high = (Math.floor(fromLow / 0x100000000) + ((fromHigh / 0x10000) >>> 0) + Math.floor(low / 0x100000000)) >>> 0;
  w.fixed64(low >>> 0, high);
}

const writeStatus = (w: ProtoWriter, status: SpanStatus): void => writeStatusFields(w, status.code, status.message);

/** Span.status from its parts (request-spans.ts writes it without a status object). */
export function writeStatusFields(w: ProtoWriter, code: number, message: string | undefined): void {
  w.byte(0x7a); // Span.status = 15
  const at = w.begin(1);
  if (message) {
    w.byte(0x12); // message = 2
    w.string(message);
  }
  w.byte(0x18); // code = 3, always
  w.varint(code);
  w.end(at, 1);
}

function writeEvent(w: ProtoWriter, event: TimedEvent): void {
  w.byte(0x5a); // Span.events = 11
  const at = w.begin(1);
  w.byte(0x09); // time_unix_nano = 1, fixed64
  writeTime(w, event.time);
  w.byte(0x12); // name = 2
  w.string(event.name);
  if (event.attributes) writeAttributes(w, event.attributes, 3);
  w.byte(0x20); // dropped_attributes_count = 4
  w.varint(event.droppedAttributesCount || 0);
  w.end(at, 1);
}

const writeIds = (w: ProtoWriter, ctx: SpanContext): void => writeIdFields(w, ctx.traceId, ctx.spanId, ctx.traceState?.serialize());

/** trace_id = 1, span_id = 2, trace_state = 3: the same numbers in Span and in Span.Link. */
export function writeIdFields(w: ProtoWriter, traceId: string, spanId: string, traceState: string | undefined): void {
  w.byte(0x0a); // trace_id = 1
  w.hex(traceId);
  w.byte(0x12); // span_id = 2
  w.hex(spanId);
  if (traceState) {
    w.byte(0x1a); // trace_state = 3
    w.string(traceState);
  }
}

function writeLink(w: ProtoWriter, link: Link): void {
  w.byte(0x6a); // Span.links = 13
  const at = w.begin(1);
  writeIds(w, link.context);
  if (link.attributes) writeAttributes(w, link.attributes, 4);
  w.byte(0x28); // dropped_attributes_count = 5
  w.varint(link.droppedAttributesCount || 0);
  w.byte(0x35); // flags = 6, fixed32 (never 0: HAS_IS_REMOTE is always set)
  w.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
  w.end(at, 1);
}

/** The ids, trace state, parent, name and kind: fields 1-6. */
function writeHead(w: ProtoWriter, span: ReadableSpan, ctx: SpanContext): void {
  writeIds(w, ctx);
  const parent = span.parentSpanContext?.spanId;
  if (parent) {
    w.byte(0x22); // parent_span_id = 4
    w.hex(parent);
  }
  w.byte(0x2a); // name = 5
  w.string(span.name);
  // The API's kinds start at INTERNAL = 0; the proto's at UNSPECIFIED = 0.
  const kind = (span.kind as number | undefined) == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    w.byte(0x30); // kind = 6
    w.varint(kind);
  }
}

function writeSpan(w: ProtoWriter, span: ReadableSpan): void {
  w.byte(0x12); // ScopeSpans.spans = 2
  const at = w.begin(SPAN_RESERVE);
  const ctx = span.spanContext();
  writeHead(w, span, ctx);
  w.byte(0x39); // start_time_unix_nano = 7, fixed64
  writeTime(w, span.startTime);
  w.byte(0x41); // end_time_unix_nano = 8, fixed64
  writeTime(w, span.endTime);
  if (span.attributes) writeAttributes(w, span.attributes, 9);
  w.byte(0x50); // dropped_attributes_count = 10
  w.varint(span.droppedAttributesCount);
  for (const event of span.events) writeEvent(w, event);
  w.byte(0x60); // dropped_events_count = 12
  w.varint(span.droppedEventsCount);
  for (const link of span.links) writeLink(w, link);
  w.byte(0x70); // dropped_links_count = 14
  w.varint(span.droppedLinksCount);
  writeStatus(w, span.status);
  w.byte(0x85); // flags = 16, fixed32: a two-byte tag
  w.byte(0x01);
  w.fixed32(spanFlags(ctx.traceFlags, span.parentSpanContext?.isRemote));
  w.end(at, SPAN_RESERVE);
}

export function writeScope(w: ProtoWriter, scope: InstrumentationScope & { attributes?: object; droppedAttributesCount?: number }): void {
  w.byte(0x0a); // ScopeSpans.scope = 1
  const at = w.begin(1);
  w.byte(0x0a); // name = 1
  w.string(scope.name);
  if (scope.version) {
    w.byte(0x12); // version = 2
    w.string(scope.version);
  }
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.byte(0x20); // dropped_attributes_count = 4
    w.varint(scope.droppedAttributesCount);
  }
  w.end(at, 1);
}

function writeScopeSpans(w: ProtoWriter, spans: ReadableSpan[]): void {
  const scope = spans[0]?.instrumentationScope;
  if (scope === undefined) return;
  w.byte(0x12); // ResourceSpans.scope_spans = 2
  const at = w.begin(GROUP_RESERVE);
  writeScope(w, scope);
  for (const span of spans) writeSpan(w, span);
  if (scope.schemaUrl) {
    w.byte(0x1a); // schema_url = 3
    w.string(scope.schemaUrl);
  }
  w.end(at, GROUP_RESERVE);
}

export function writeResource(w: ProtoWriter, resource: Resource): void {
  w.byte(0x0a); // ResourceSpans.resource = 1
  const res = w.begin(1);
  const attributes = resource.attributes as object | undefined;
  if (attributes) writeAttributes(w, attributes, 1);
  w.byte(0x10); // Resource.dropped_attributes_count = 2, always 0 in the SDK
  w.byte(0x00);
  w.end(res, 1);
}

function writeResourceSpans(w: ProtoWriter, resource: Resource, scopes: Map<InstrumentationScope, ReadableSpan[]>): void {
  w.byte(0x0a); // ExportTraceServiceRequest.resource_spans = 1
  const at = w.begin(GROUP_RESERVE);
  writeResource(w, resource);
  for (const spans of scopes.values()) writeScopeSpans(w, spans);
  if (resource.schemaUrl) {
    w.byte(0x1a); // schema_url = 3
    w.string(resource.schemaUrl);
  }
  w.end(at, GROUP_RESERVE);
}

/** Spans by resource, then by scope, by object identity in first-seen order (the SDK's createResourceMap). */
function byResource(spans: readonly ReadableSpan[]): Map<Resource, Map<InstrumentationScope, ReadableSpan[]>> {
  const out = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = out.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      out.set(span.resource, scopes);
    }
    const list = scopes.get(span.instrumentationScope);
    if (list === undefined) scopes.set(span.instrumentationScope, [span]);
    else list.push(span);
  }
  return out;
}

/** One writer per thread: encoding is synchronous, so a group never shares it with another. */
const writer = new ProtoWriter();

/**
 * One span as its ScopeSpans.spans field (tag, length, Span): what a group made by
 * group.ts holds end to end, for spans that come from the SDK's tracer (audit, probes, and
 * requests the direct path does not take: span-pipeline.ts).
 */
export function encodeSpanField(span: ReadableSpan): Uint8Array {
  writer.pos = 0;
  try {
    writeSpan(writer, span);
    return writer.take();
  } finally {
    writer.pos = 0;
  }
}

export function encodeTraceRequest(spans: readonly ReadableSpan[]): Uint8Array {
  writer.pos = 0;
  try {
    for (const [resource, scopes] of byResource(spans)) writeResourceSpans(writer, resource, scopes);
    return writer.take();
  } finally {
    writer.pos = 0;
  }
}
