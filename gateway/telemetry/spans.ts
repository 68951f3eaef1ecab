import { context, defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { CompletedRequest } from '../pipeline/record.js';
import { answering, attemptAttributes, requestAttributes } from './attributes.js';
import { clip, SPAN_NAME_MODEL_CHARS } from './bounds.js';
import type { IdPresets } from './trace-ids.js';

const propagator = new W3CTraceContextPropagator();

/** The caller's W3C trace context (traceparent/tracestate), so Keel's spans join its trace. */
export function parentContext(rec: CompletedRequest): Context {
  if (rec.traceparent === undefined) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent: rec.traceparent };
  if (rec.tracestate !== undefined) carrier.tracestate = rec.tracestate;
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** GenAI span name `{operation} {model}`; the model is the caller's choice, so it is cut (bounds.ts). */
export const spanName = (operation: string, model: string): string => `${operation} ${clip(model, SPAN_NAME_MODEL_CHARS)}`;

/**
 * Writes one finished request as spans, after the fact, with the times it had:
 * a SERVER span for the request and a CLIENT child per upstream attempt
 * (DESIGN.md §4). Span names follow GenAI: `{operation} {model}`.
 *
 * The SDK path: the span pipeline writes a request's spans from its record straight to bytes
 * (request-spans.ts, held byte-identical to this by test/telemetry/request-spans.test.ts) and
 * comes here only when that path would differ (odd times or ids).
 *
 * Attributes are set after startSpan rather than passed to it: startSpan copies them twice
 * through sanitizeAttributes (for the sampler, which here reads none: always-on), and setAttribute applies the same key and value checks and limits
 * anyway, so the span ends up the same (test/telemetry/otlp-encoder.test.ts compares the bytes).
 */
export function recordSpans(tracer: Tracer, rec: CompletedRequest, ids?: IdPresets): void {
  const start = rec.startedAtMs;
  // The ids attempts already sent upstream in their traceparent (trace-ids.ts).
  ids?.preset(rec.trace?.traceId, rec.trace?.spanId);
  const server = tracer.startSpan(spanName(rec.operation, rec.requestModel ?? 'unknown'), { kind: SpanKind.SERVER, startTime: start }, parentContext(rec));
  server.setAttributes(requestAttributes(rec, (answering(rec) ?? rec.attempts[rec.attempts.length - 1])?.genAiProvider));
  ids?.preset(undefined, undefined);
  if (rec.errorCode !== undefined) server.setStatus({ code: SpanStatusCode.ERROR, message: rec.errorCode });
  const parent = trace.setSpan(context.active(), server);
  rec.attempts.forEach((a, i) => {
    ids?.preset(undefined, a.spanId);
    const span = tracer.startSpan(spanName(rec.operation, a.model), { kind: SpanKind.CLIENT, startTime: start + a.startMs }, parent);
    span.setAttributes(attemptAttributes(rec, a, i));
    // A hedge that lost was stopped by Keel: not an error of the provider's.
    if (!a.ok && a.errorClass !== 'gateway_cancelled') span.setStatus({ code: SpanStatusCode.ERROR, message: a.errorCode ?? 'error' });
    span.end(start + a.startMs + a.durationMs);
  });
  server.end(start + rec.durationMs);
}
