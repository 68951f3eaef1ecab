import type { ExportResult } from '@opentelemetry/core';
import { OTLPExporterBase, type OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { encodeTraceRequest } from './otlp/index.js';

/**
 * Spans encoded as they end, one OTLP/protobuf ExportTraceServiceRequest per group, and sent
 * by the official OTLP/HTTP transport (retries, timeouts, compression, env configuration).
 *
 * Why encode at once instead of queueing span objects for a batch encoder: a queued span is
 * a graph of ~40 objects that survives every scavenge until its export (up to 512 of them per
 * destination), so each young-generation GC copied them and promoted them, and the export
 * then encoded 512 spans in one synchronous burst on the request thread. Encoded, a group is
 * one byte array, the span objects die young, and the encoding cost is spread over requests.
 *
 * Why concatenation is a valid batch: ExportTraceServiceRequest is `repeated ResourceSpans
 * resource_spans = 1`, and protobuf parses concatenated messages as one with the repeated
 * fields appended (https://protobuf.dev/programming-guides/encoding/#last-one-wins), so a
 * batch of groups is the groups' bytes end to end: one ResourceSpans per group.
 */
export interface EncodedSpans {
  bytes: Uint8Array;
  /** Spans in `bytes`: what batch sizes, bounds and drop counts are counted in. */
  spans: number;
}

export interface EncodedExporter {
  export(batch: EncodedSpans[], done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

/**
 * One group's bytes, by Keel's encoder (otlp/): byte-identical to the SDK's
 * ProtobufTraceSerializer (the shape OTLPTraceExporter sends; test/telemetry/otlp-encoder.test.ts
 * holds them side by side), at about a third of its CPU per span (bench/reading.md, issue 18, the span encoder).
 */
export function encodeSpans(spans: ReadableSpan[]): EncodedSpans {
  return { bytes: encodeTraceRequest(spans), spans: spans.length };
}

function concat(batch: EncodedSpans[]): Uint8Array {
  if (batch.length === 1 && batch[0] !== undefined) return batch[0].bytes;
  return Buffer.concat(batch.map((b) => b.bytes));
}

const serializer: ISerializer<EncodedSpans[], IExportTraceServiceResponse> = {
  serializeRequest: concat,
  deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
};

/** The component type OTLPTraceExporter reports for its self-observability metrics (none are registered here). */
const COMPONENT = 'otlp_http_span_exporter';
const countSpans = { name: 'span' as const, countItems: (batch: EncodedSpans[]) => batch.reduce((n, b) => n + b.spans, 0) };

/**
 * OTLP/HTTP protobuf to `config.url` (or the OTEL_EXPORTER_OTLP_* environment, as
 * OTLPTraceExporter reads it), with pre-encoded batches.
 */
export function otlpEncodedExporter(config: OTLPExporterNodeConfigBase = {}): EncodedExporter {
  const options = convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase(createOtlpHttpExportDelegate(options, serializer, COMPONENT, countSpans, undefined));
}
