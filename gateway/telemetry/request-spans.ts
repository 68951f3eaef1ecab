import { isValidSpanId, isValidTraceId, SpanKind, SpanStatusCode, trace, TraceFlags, type AttributeValue, type SpanContext } from '@opentelemetry/api';
import { hrTimeDuration, isAttributeValue, millisToHrTime } from '@opentelemetry/core';
import type { CompletedRequest } from '../pipeline/record.js';
import { answering, visitAttemptAttributes, visitRequestAttributes, type AttributeSink } from './attributes.js';
import { SPAN_LIMITS } from './bounds.js';
import { spanFlags, writeIdFields, writeStatusFields, writeTime } from './otlp/trace.js';
import { writeKeyValue } from './otlp/values.js';
import { ProtoWriter } from './otlp/writer.js';
import { parentContext, spanName } from './spans.js';
import { randomIds, type IdSource } from './trace-ids.js';

/**
 * A finished request's spans written from its record straight to OTLP bytes: no SDK span, no
 * attribute object. The bytes are what recordSpans (the SDK's tracer, ParentBased(AlwaysOn),
 * SPAN_LIMITS) and Keel's encoder give for the same record, span for span
 * (test/telemetry/request-spans.test.ts, the SDK path as the oracle); each span is one
 * ScopeSpans.spans field, in the SDK's end order (the attempts, then the request's own span),
 * for otlp/group.ts to put into groups. Building the SDK's spans cost ~11 µs a request and
 * ~20 KB of garbage (bench/reading.md, issue 18, the span encoder and allocation).
 */
export interface RequestSpans {
  traceId: string;
  spans: Uint8Array[];
}

const COUNT_LIMIT = SPAN_LIMITS.attributeCountLimit ?? 128;
const LENGTH_LIMIT = SPAN_LIMITS.attributeValueLengthLimit ?? Infinity;
const ATTRIBUTE_TAG = 0x4a; // Span.attributes = 9, length-delimited
/** What a Keel span (~1-2 KB) needs for its length; a miss only moves the body (writer.ts). */
const SPAN_RESERVE = 2;
// The API's kinds start at INTERNAL = 0; the proto's at UNSPECIFIED = 0.
const SERVER = SpanKind.SERVER + 1;
const CLIENT = SpanKind.CLIENT + 1;

/**
 * Records this path writes exactly as the SDK would. The SDK reads a time at or below
 * performance.now() as a performance timestamp and shifts it by a clock offset of the moment,
 * and it makes the attempts roots when the request's own ids are not valid ones: records the
 * pipeline never makes (epoch times, ids from trace-ids.ts), left to the SDK path.
 */
export function writesDirectly(rec: CompletedRequest): boolean {
  if (rec.trace !== undefined && !(isValidTraceId(rec.trace.traceId) && isValidSpanId(rec.trace.spanId))) return false;
  const now = performance.now();
  const s = rec.startedAtMs;
  if (!(s > now && s + rec.durationMs > now)) return false;
  for (const a of rec.attempts) if (!(s + a.startMs > now && s + a.startMs + a.durationMs > now)) return false;
  return true;
}

/** The setAttribute rules of the SDK's span, applied as each attribute is written. */
class AttributeWriter {
  w = new ProtoWriter();
  count = 0;
  dropped = 0;

  start(w: ProtoWriter): void {
    this.w = w;
    this.count = 0;
    this.dropped = 0;
  }

  // Keys are distinct within a span (attributes.ts), so every key is a new one to the count limit.
  readonly sink: AttributeSink = (key, value) => {
    if (value == null || key.length === 0 || !isAttributeValue(value)) return;
    if (this.count >= COUNT_LIMIT) {
      this.dropped++;
      return;
    }
    writeKeyValue(this.w, ATTRIBUTE_TAG, key, truncated(value));
    this.count++;
  };
}

function truncated(value: AttributeValue): AttributeValue {
  if (typeof value === 'string') return value.length <= LENGTH_LIMIT ? value : value.substring(0, LENGTH_LIMIT);
  if (!Array.isArray(value)) return value;
  const long = (v: unknown) => typeof v === 'string' && v.length > LENGTH_LIMIT;
  return value.some(long) ? (value as unknown[]).map((v) => (typeof v === 'string' ? v.substring(0, LENGTH_LIMIT) : v)) as AttributeValue : value;
}

const attributes = new AttributeWriter();

/** Ids, trace state, parent, name, kind (Span fields 1-6), then the start and end times (7, 8). */
function writeHead(w: ProtoWriter, traceId: string, traceState: string | undefined, spanId: string, parentSpanId: string | undefined, name: string, kind: number): void {
  writeIdFields(w, traceId, spanId, traceState);
  if (parentSpanId) {
    w.byte(0x22); // parent_span_id = 4
    w.hex(parentSpanId);
  }
  w.byte(0x2a); // name = 5
  w.string(name);
  w.byte(0x30); // kind = 6
  w.varint(kind);
}

function writeTimes(w: ProtoWriter, startMs: number, endMs: number): void {
  const start = millisToHrTime(startMs);
  const end = millisToHrTime(endMs);
  w.byte(0x39); // start_time_unix_nano = 7, fixed64
  writeTime(w, start);
  w.byte(0x41); // end_time_unix_nano = 8, fixed64
  // The SDK ends a span that would end before it started at its start.
  writeTime(w, hrTimeDuration(start, end)[0] < 0 ? start : end);
}

/** Fields 10-16: the dropped counts (no events, no links), the status and the flags. */
function writeTail(w: ProtoWriter, error: string | undefined, flags: number): void {
  w.byte(0x50); // dropped_attributes_count = 10
  w.varint(attributes.dropped);
  w.byte(0x60); // dropped_events_count = 12
  w.byte(0x00);
  w.byte(0x70); // dropped_links_count = 14
  w.byte(0x00);
  writeStatusFields(w, error === undefined ? SpanStatusCode.UNSET : SpanStatusCode.ERROR, error);
  w.byte(0x85); // flags = 16, fixed32: a two-byte tag
  w.byte(0x01);
  w.fixed32(flags);
}

/**
 * Spans share slabs: each is a view of the scratch it was written into, and a slab is left
 * to the views (collected once the last group holding one is encoded) when little room is left.
 */
const SLAB_BYTES = 64 * 1024;
const SLAB_FREE = 16 * 1024;
const slab = new ProtoWriter();

function room(w: ProtoWriter): void {
  if (w.buf.length - w.pos >= SLAB_FREE) return;
  w.buf = Buffer.allocUnsafe(SLAB_BYTES);
  w.pos = 0;
}

/** The caller's span context, when it sent a valid traceparent (the SDK's own parse). */
function callerParent(rec: CompletedRequest): SpanContext | undefined {
  if (rec.traceparent === undefined) return undefined;
  return trace.getSpanContext(parentContext(rec));
}

/**
 * The request's spans, always: whatever the caller's traceparent flags say (the pipeline's
 * AlwaysOn sampler, span-pipeline.ts), so that no header can take a request out of the SLIs.
 */
export function requestSpans(rec: CompletedRequest, ids: IdSource = randomIds): RequestSpans {
  const parent = callerParent(rec);
  // The SDK's order: the request's span id, then its trace id (a root only), then each attempt's span id.
  const serverId = rec.trace?.spanId ?? ids.spanId();
  const traceId = parent?.traceId ?? rec.trace?.traceId ?? ids.traceId();
  const attemptIds = rec.attempts.map((a) => a.spanId ?? ids.spanId());
  const traceState = parent?.traceState?.serialize();
  const w = slab;
  room(w);
  const spans: Uint8Array[] = [];
  const start = rec.startedAtMs;
  rec.attempts.forEach((a, i) => {
    const from = spanStart(w);
    writeHead(w, traceId, traceState, attemptIds[i] ?? '', serverId, spanName(rec.operation, a.model), CLIENT);
    writeTimes(w, start + a.startMs, start + a.startMs + a.durationMs);
    attributes.start(w);
    visitAttemptAttributes(rec, a, i, attributes.sink);
    // A hedge that lost was stopped by Keel: not an error of the provider's.
    writeTail(w, !a.ok && a.errorClass !== 'gateway_cancelled' ? (a.errorCode ?? 'error') : undefined, spanFlags(TraceFlags.SAMPLED, undefined));
    spans.push(spanEnd(w, from));
  });
  const from = spanStart(w);
  writeHead(w, traceId, traceState, serverId, parent?.spanId, spanName(rec.operation, rec.requestModel ?? 'unknown'), SERVER);
  writeTimes(w, start, start + rec.durationMs);
  attributes.start(w);
  visitRequestAttributes(rec, (answering(rec) ?? rec.attempts[rec.attempts.length - 1])?.genAiProvider, attributes.sink);
  writeTail(w, rec.errorCode, spanFlags(TraceFlags.SAMPLED, parent?.isRemote));
  spans.push(spanEnd(w, from));
  return { traceId, spans };
}

/** Opens a ScopeSpans.spans field; returns where it starts. */
function spanStart(w: ProtoWriter): number {
  const from = w.pos;
  w.byte(0x12); // ScopeSpans.spans = 2
  w.begin(SPAN_RESERVE);
  return from;
}

/** Closes the field spanStart opened and returns it as a view of the slab. */
function spanEnd(w: ProtoWriter, from: number): Uint8Array {
  w.end(from + 1, SPAN_RESERVE);
  return w.buf.subarray(from, w.pos);
}
