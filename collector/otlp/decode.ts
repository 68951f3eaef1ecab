import { gunzipSync } from 'node:zlib';
import { protobufTraceRows } from '../rows/trace-wire.js';
import { otlpType } from './proto.js';
import type { MetricsRequest, Signal, TracesRequest } from './types.js';

export type Encoding = 'protobuf' | 'json';

export class OtlpDecodeError extends Error {}

/** The body's encoding from its Content-Type, or undefined (→ 415). */
export function encodingOf(contentType: string | undefined): Encoding | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

const REQUEST_TYPE: Record<Signal, string> = { traces: 'ExportTraceServiceRequest', metrics: 'ExportMetricsServiceRequest' };
const RESPONSE_TYPE: Record<Signal, string> = { traces: 'ExportTraceServiceResponse', metrics: 'ExportMetricsServiceResponse' };

/** Unzips (Content-Encoding: gzip) and decodes one export request into the JSON-shaped form. */
export function decodeRequest(signal: 'traces', body: Buffer, encoding: Encoding, gzip: boolean): TracesRequest;
export function decodeRequest(signal: 'metrics', body: Buffer, encoding: Encoding, gzip: boolean): MetricsRequest;
export function decodeRequest(signal: Signal, body: Buffer, encoding: Encoding, gzip: boolean): TracesRequest | MetricsRequest {
  const raw = inflate(body, gzip);
  if (encoding === 'json') {
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OtlpDecodeError('the body is not a JSON object');
      return parsed;
    } catch (err) {
      throw err instanceof OtlpDecodeError ? err : new OtlpDecodeError('the body is not valid JSON');
    }
  }
  const type = otlpType(REQUEST_TYPE[signal]);
  try {
    // Longs as decimal strings (nanosecond times overflow doubles); enums as numbers, like OTLP/JSON.
    return type.toObject(type.decode(raw), { longs: String, enums: Number, defaults: false, oneofs: false });
  } catch {
    throw new OtlpDecodeError(`the body is not a valid ${REQUEST_TYPE[signal]} protobuf message`);
  }
}

/** The body limit when the caller names none (telemetry.collector.max_body_bytes' default). */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** A body that is, or inflates to, more than the limit (→ 413). */
export class OtlpTooLarge extends Error {}

/**
 * Inflates a gzip body, stopping at `maxBytes` of output: 1 GiB of zeros gzips to ~1 MiB, so the
 * compressed size says nothing about what inflating it would allocate (DESIGN.md §6).
 */
export function inflate(body: Buffer, gzip: boolean, maxBytes: number = DEFAULT_MAX_BODY_BYTES): Buffer {
  if (!gzip) return body;
  try {
    return gunzipSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new OtlpTooLarge(`the body inflates to more than ${maxBytes} bytes`);
    throw new OtlpDecodeError('the body is not valid gzip');
  }
}

/** An OTLP/protobuf traces request straight to otel_traces lines as bytes (rows/trace-wire.ts), with decodeRequest's errors. */
export function decodeTraceRows(body: Buffer, gzip: boolean): ReturnType<typeof protobufTraceRows> {
  const raw = inflate(body, gzip);
  try {
    return protobufTraceRows(raw);
  } catch {
    throw new OtlpDecodeError(`the body is not a valid ${REQUEST_TYPE.traces} protobuf message`);
  }
}

/** The success response, with partialSuccess when some items were rejected (OTLP spec: omit it otherwise). */
export function encodeResponse(signal: Signal, encoding: Encoding, rejected: number, message: string): { body: Buffer; contentType: string } {
  const countKey = signal === 'traces' ? 'rejectedSpans' : 'rejectedDataPoints';
  const value = rejected > 0 ? { partialSuccess: { [countKey]: rejected, errorMessage: message } } : {};
  if (encoding === 'json') return { body: Buffer.from(JSON.stringify(rejected > 0 ? { partialSuccess: { [countKey]: String(rejected), errorMessage: message } } : {})), contentType: 'application/json' };
  const type = otlpType(RESPONSE_TYPE[signal]);
  return { body: Buffer.from(type.encode(type.fromObject(value)).finish()), contentType: 'application/x-protobuf' };
}

/** An OTLP/HTTP error body (google.rpc.Status) in the request's encoding. */
export function encodeStatus(encoding: Encoding, code: number, message: string): { body: Buffer; contentType: string } {
  if (encoding === 'json') return { body: Buffer.from(JSON.stringify({ code, message })), contentType: 'application/json' };
  const type = otlpType('RpcStatus');
  return { body: Buffer.from(type.encode(type.fromObject({ code, message })).finish()), contentType: 'application/x-protobuf' };
}
