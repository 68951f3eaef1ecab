import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { writeResource, writeScope } from './trace.js';
import { ProtoWriter, varintSize } from './writer.js';

/**
 * A group of spans already encoded one by one (ScopeSpans.spans fields) as the
 * ExportTraceServiceRequest that encodeTraceRequest writes for the same spans when they share
 * one resource and one scope, as every span of a span pipeline does: one ResourceSpans with
 * one ScopeSpans. The resource and scope are encoded once per pipeline; a group is then one
 * allocation and a copy per span (test/telemetry/request-spans.test.ts holds the bytes equal).
 */
export interface GroupHeader {
  resource: Uint8Array;
  scope: Uint8Array;
  scopeSchemaUrl: Uint8Array;
  resourceSchemaUrl: Uint8Array;
}

function schemaField(url: string | undefined): Uint8Array {
  if (!url) return new Uint8Array(0);
  const w = new ProtoWriter();
  w.byte(0x1a); // schema_url = 3, in ScopeSpans and in ResourceSpans
  w.string(url);
  return w.take();
}

export function groupHeader(resource: Resource, scope: InstrumentationScope): GroupHeader {
  const w = new ProtoWriter();
  writeResource(w, resource);
  const res = w.take();
  writeScope(w, scope);
  return { resource: res, scope: w.take(), scopeSchemaUrl: schemaField(scope.schemaUrl), resourceSchemaUrl: schemaField(resource.schemaUrl) };
}

function putVarint(out: Uint8Array, at: number, value: number): number {
  let p = at;
  let v = value;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  return p;
}

function put(out: Uint8Array, at: number, bytes: Uint8Array): number {
  out.set(bytes, at);
  return at + bytes.length;
}

/** The group's ExportTraceServiceRequest; no spans, no bytes (as encodeTraceRequest([]) gives). */
export function assembleGroup(h: GroupHeader, spans: readonly Uint8Array[]): Uint8Array {
  if (spans.length === 0) return new Uint8Array(0);
  let spanBytes = 0;
  for (const s of spans) spanBytes += s.length;
  const scopeSpans = h.scope.length + spanBytes + h.scopeSchemaUrl.length;
  const resourceSpans = h.resource.length + 1 + varintSize(scopeSpans) + scopeSpans + h.resourceSchemaUrl.length;
  const out = new Uint8Array(1 + varintSize(resourceSpans) + resourceSpans);
  out[0] = 0x0a; // ExportTraceServiceRequest.resource_spans = 1
  let p = putVarint(out, 1, resourceSpans);
  p = put(out, p, h.resource);
  out[p++] = 0x12; // ResourceSpans.scope_spans = 2
  p = putVarint(out, p, scopeSpans);
  p = put(out, p, h.scope);
  for (const s of spans) p = put(out, p, s);
  p = put(out, p, h.scopeSchemaUrl);
  put(out, p, h.resourceSchemaUrl);
  return out;
}
