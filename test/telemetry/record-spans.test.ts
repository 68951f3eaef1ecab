import { context, defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { answering, attemptAttributes, requestAttributes } from '../../gateway/telemetry/attributes.js';
import { clip, SPAN_LIMITS, SPAN_NAME_MODEL_CHARS } from '../../gateway/telemetry/bounds.js';
import { captureInput } from '../../gateway/telemetry/content.js';
import { encodeTraceRequest } from '../../gateway/telemetry/otlp/index.js';
import { recordSpans } from '../../gateway/telemetry/spans.js';
import { PresetIds } from '../../gateway/telemetry/trace-ids.js';

/**
 * recordSpans sets attributes after startSpan (skipping startSpan's two sanitizeAttributes
 * copies): the spans must be what passing them to startSpan gave, byte for byte once encoded.
 * The reference below is recordSpans as it was before that change.
 */
function reference(tracer: Tracer, rec: CompletedRequest, ids: PresetIds): void {
  const name = (model: string) => `${rec.operation} ${clip(model, SPAN_NAME_MODEL_CHARS)}`;
  const carrier: Record<string, string> = rec.traceparent === undefined ? {} : { traceparent: rec.traceparent, ...(rec.tracestate === undefined ? {} : { tracestate: rec.tracestate }) };
  const parentCtx = rec.traceparent === undefined ? ROOT_CONTEXT : new W3CTraceContextPropagator().extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  ids.preset(rec.trace?.traceId, rec.trace?.spanId);
  const attrs = requestAttributes(rec, (answering(rec) ?? rec.attempts[rec.attempts.length - 1])?.genAiProvider);
  const server = tracer.startSpan(name(rec.requestModel ?? 'unknown'), { kind: SpanKind.SERVER, startTime: rec.startedAtMs, attributes: attrs }, parentCtx);
  ids.preset(undefined, undefined);
  if (rec.errorCode !== undefined) server.setStatus({ code: SpanStatusCode.ERROR, message: rec.errorCode });
  const parent = trace.setSpan(context.active(), server);
  rec.attempts.forEach((a, i) => {
    ids.preset(undefined, a.spanId);
    const span = tracer.startSpan(name(a.model), { kind: SpanKind.CLIENT, startTime: rec.startedAtMs + a.startMs, attributes: attemptAttributes(rec, a, i) }, parent);
    if (!a.ok && a.errorClass !== 'gateway_cancelled') span.setStatus({ code: SpanStatusCode.ERROR, message: a.errorCode ?? 'error' });
    span.end(rec.startedAtMs + a.startMs + a.durationMs);
  });
  server.end(rec.startedAtMs + rec.durationMs);
}

function spansOf(write: (tracer: Tracer, rec: CompletedRequest, ids: PresetIds) => void, rec: CompletedRequest): Uint8Array {
  const spans: ReadableSpan[] = [];
  const ids = new PresetIds();
  const tracer = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'keel' }), spanLimits: SPAN_LIMITS, idGenerator: ids,
    spanProcessors: [{ onStart: () => undefined, onEnd: (s) => spans.push(s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() }],
  }).getTracer('keel');
  write(tracer, rec, ids);
  return encodeTraceRequest(spans);
}

const attempt = (over: Partial<AttemptInfo>): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: 'primary', startMs: 1, durationMs: 100, ttftMs: 40,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 }, spanId: 'a1a2a3a4a5a6a7a8', ...over,
});

const text = fc.string({ unit: fc.oneof(fc.constantFrom('\ud800', '😀', 'é'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), maxLength: 300 });

describe('recordSpans: attributes set after startSpan give the spans passing them to startSpan gave', () => {
  it('for arbitrary requests (caller strings, key metadata past the attribute limit, failures, content, caller trace context)', () => {
    fc.assert(
      fc.property(
        fc.record({ model: text, requestId: text, team: fc.option(text, { nil: undefined }), meta: fc.dictionary(fc.stringMatching(/^[a-z0-9_]{1,12}$/), text, { maxKeys: 130 }), failed: fc.boolean(), parent: fc.boolean(), content: fc.boolean(), tokens: fc.nat() }),
        (r) => {
          const rec: CompletedRequest = {
            requestId: r.requestId, operation: 'chat', startedAtMs: 1_764_700_000_000.25, traceparent: r.parent ? '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' : undefined, tracestate: r.parent ? 'vendor=1' : undefined,
            trace: { traceId: r.parent ? '4bf92f3577b34da6a3ce929d0e0e4736' : '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', flags: '01' },
            ingressFormat: 'openai-chat', route: 'chat', provider: 'oai', providerType: 'openai', requestModel: r.model, responseModel: undefined, stream: true, clientId: 'app', team: r.team, customer: undefined, keyMetadata: r.meta, guardrails: [], configVersion: 3,
            status: r.failed ? 502 : 200, errorCode: r.failed ? 'KEEL_UPSTREAM_ERROR' : undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 500, ttftMs: 120, interTokenMs: [10, 30], usage: { inputTokens: r.tokens, outputTokens: 200 },
            finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
            attempts: [attempt({ ok: !r.failed, errorCode: r.failed ? 'KEEL_UPSTREAM_ERROR' : undefined, model: r.model }), ...(r.failed ? [] : [attempt({ reason: 'hedge', ok: false, errorClass: 'gateway_cancelled', spanId: 'c1c2c3c4c5c6c7c8' })])],
            fallbacks: 0, retries: 0, hedged: !r.failed, continued: false, weightsVersion: 'v2', cache: undefined,
            content: r.content ? captureInput({ model: 'chat', system: r.model, messages: [{ role: 'user', content: [{ type: 'text', text: r.requestId }] }], stream: false, streamUsage: false, original: { format: 'openai-chat', body: {} } }) : undefined,
          };
          expect(Buffer.from(spansOf(recordSpans, rec)).toString('hex')).toBe(Buffer.from(spansOf(reference, rec)).toString('hex'));
        },
      ),
      { numRuns: 150 },
    );
  });
});
