import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES, ERROR_CODES, type ErrorCode } from '../../gateway/errors.js';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { SPAN_LIMITS } from '../../gateway/telemetry/bounds.js';
import { captureInput, outputOfText } from '../../gateway/telemetry/content.js';
import { assembleGroup, encodeTraceRequest, groupHeader } from '../../gateway/telemetry/otlp/index.js';
import { requestSpans, writesDirectly } from '../../gateway/telemetry/request-spans.js';
import { recordSpans } from '../../gateway/telemetry/spans.js';
import { PresetIds, type IdSource } from '../../gateway/telemetry/trace-ids.js';

/**
 * The direct path (request-spans.ts: record → bytes) against the SDK path it replaces on the
 * hot path, kept in the source for the cases it does not take: recordSpans through
 * BasicTracerProvider (the pipeline's resource, span limits and AlwaysOn
 * sampling), then Keel's encoder (itself held byte-identical to the SDK's serializer by
 * otlp-encoder.test.ts). Ids the record leaves open come from the same counter on both sides.
 */

const hex = (n: number, digits: number) => (n + 1).toString(16).padStart(digits, '0');

function counterIds(seed: number): IdSource {
  let n = seed * 1000;
  return { traceId: () => hex(n++, 32), spanId: () => hex(n++, 16) };
}

/** The oracle's id source: a PresetIds whose fallback is whichever counter the current record uses. */
function oracle() {
  let current = counterIds(0);
  const ids = new PresetIds({ traceId: () => current.traceId(), spanId: () => current.spanId() });
  const spans: ReadableSpan[] = [];
  const resource = resourceFromAttributes({ 'service.name': 'keel' });
  const tracer = new BasicTracerProvider({
    resource, spanLimits: SPAN_LIMITS, idGenerator: ids, sampler: new AlwaysOnSampler(),
    spanProcessors: [{ onStart: () => undefined, onEnd: (s) => spans.push(s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() }],
  }).getTracer('keel');
  return {
    header: groupHeader(resource, { name: 'keel' }),
    record(rec: CompletedRequest, seed: number): ReadableSpan[] {
      current = counterIds(seed);
      const from = spans.length;
      recordSpans(tracer, rec, ids);
      return spans.slice(from);
    },
  };
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

const text = fc.string({ unit: fc.oneof(fc.constantFrom('\ud800', '\udfff', '😀', 'é', '€', '\u0000'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), maxLength: 40 });
const longText = fc.oneof({ weight: 5, arbitrary: text }, { weight: 1, arbitrary: fc.nat(600).map((n) => 'm'.repeat(n)) });
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const hexId = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const errorCode = fc.constantFrom(...(Object.keys(ERROR_CODES) as ErrorCode[]));
const errorClass = fc.constantFrom(...ERROR_CLASSES);
const ms = fc.oneof(fc.double({ min: 0, max: 60_000, noNaN: true }), fc.nat(5000));

/** Caller trace context: valid (sampled or not, any flags), upper case, bad versions, zero ids, junk. */
const traceparent = fc.oneof(
  fc.constant(undefined),
  fc.tuple(hexId(16), hexId(8), fc.nat(255)).map(([t, s, f]) => `00-${t}-${s}-${f.toString(16).padStart(2, '0')}`),
  fc.constantFrom('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01', ' 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ', 'garbage'),
);
const tracestate = fc.option(fc.constantFrom('vendor=1', 'a=b,c=d', 'k@t=x-y', 'bad', ' x=1 , y=2 ', ''), { nil: undefined });

const attempt: fc.Arbitrary<AttemptInfo> = fc.record({
  provider: text, genAiProvider: text, providerType: text, model: longText, reason: fc.constantFrom('primary', 'retry', 'fallback', 'hedge', 'continuation'),
  startMs: ms, durationMs: fc.oneof(ms, fc.constant(-5)), ttftMs: opt(ms), ok: fc.boolean(), errorCode: opt(errorCode), upstreamCode: opt(text), errorClass: opt(errorClass),
  serverAddress: text, serverPort: fc.integer({ min: 0, max: 65535 }), price: opt(fc.record({ input: fc.double({ min: 0, max: 100, noNaN: true }), output: fc.double({ min: 0, max: 100, noNaN: true }) })),
  spanId: opt(hexId(8)),
}, { requiredKeys: ['provider', 'genAiProvider', 'providerType', 'model', 'reason', 'startMs', 'durationMs', 'ttftMs', 'ok', 'errorCode', 'upstreamCode', 'errorClass', 'serverAddress', 'serverPort', 'price'] });

const content = fc.option(fc.tuple(text, fc.nat(3000), fc.boolean()).map(([t, n, out]) => {
  const c = captureInput({ model: 'chat', system: t, messages: [{ role: 'user', content: [{ type: 'text', text: `${t}${'é'.repeat(n)}` }] }], stream: false, streamUsage: false, original: { format: 'openai-chat', body: {} } });
  if (out) c.output = outputOfText('answer '.repeat(n * 4), 'stop');
  return c;
}), { nil: undefined });

const record: fc.Arbitrary<CompletedRequest> = fc.record({
  requestId: longText, operation: fc.constantFrom('chat', 'embeddings'), startedAtMs: fc.double({ min: 1.6e12, max: 2e12, noNaN: true }), traceparent, tracestate,
  trace: opt(fc.record({ traceId: hexId(16), spanId: hexId(8), flags: fc.constantFrom('01', '00') })), ingressFormat: text, route: opt(text), provider: opt(text), providerType: opt(text),
  requestModel: opt(longText), responseModel: opt(text), stream: fc.boolean(), clientId: opt(text), team: opt(text),
  guardrails: fc.array(fc.record({ direction: fc.constantFrom('in', 'out'), rule: text, detector: text, action: fc.constantFrom('block', 'redact', 'log'), count: fc.nat(9) }), { maxLength: 3 }),
  customer: opt(text), keyMetadata: fc.oneof(fc.dictionary(fc.stringMatching(/^[a-z0-9_]{1,12}$/), longText, { maxKeys: 4 }), fc.dictionary(fc.stringMatching(/^[a-z0-9_]{1,12}$/), text, { minKeys: 90, maxKeys: 130 })),
  configVersion: fc.nat(), status: fc.integer({ min: 100, max: 599 }), errorCode: opt(errorCode), errorClass: opt(errorClass), upstreamCode: opt(text),
  durationMs: fc.oneof(ms, fc.constant(-1)), ttftMs: opt(ms), interTokenMs: fc.array(ms, { maxLength: 6 }),
  usage: opt(fc.record({ inputTokens: fc.nat(), outputTokens: fc.nat(), cacheReadTokens: opt(fc.nat()), cacheWriteTokens: opt(fc.nat()) }, { requiredKeys: ['inputTokens', 'outputTokens'] })),
  finishReason: opt(fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', 'stop_sequence', 'error')), malformedChunks: fc.nat(3), streamTruncated: fc.boolean(), endSynthesized: fc.boolean(),
  attempts: fc.array(attempt, { maxLength: 4 }), fallbacks: fc.nat(3), retries: fc.nat(3), hedged: fc.boolean(), continued: fc.boolean(), weightsVersion: text, content,
  cache: opt(fc.record({ status: fc.constantFrom('miss', 'exact', 'semantic', 'stale', 'bypass'), similarity: opt(fc.double({ min: 0, max: 1, noNaN: true })), lookupMs: opt(ms), ageS: opt(ms), savedUsd: opt(fc.double({ min: 0, max: 1, noNaN: true })), stored: opt(fc.boolean()), embeddingMs: opt(ms), embeddingCostUsd: opt(fc.double({ min: 0, max: 1, noNaN: true })) }, { requiredKeys: ['status'] })),
  routeRules: opt(fc.array(fc.record({ rule: text, skipped: fc.boolean() }), { maxLength: 3 })),
}, { requiredKeys: ['requestId', 'operation', 'startedAtMs', 'traceparent', 'tracestate', 'ingressFormat', 'route', 'provider', 'providerType', 'requestModel', 'responseModel', 'stream', 'clientId', 'team', 'guardrails', 'customer', 'keyMetadata', 'configVersion', 'status', 'errorCode', 'errorClass', 'upstreamCode', 'durationMs', 'ttftMs', 'interTokenMs', 'usage', 'finishReason', 'malformedChunks', 'streamTruncated', 'endSynthesized', 'attempts', 'fallbacks', 'retries', 'hedged', 'continued', 'weightsVersion', 'content', 'cache'] });

describe('spans written from the record = the SDK path (recordSpans + Keel encoder), byte for byte', () => {
  it('for arbitrary records: the same spans, in the same order, under the same trace id', () => {
    const o = oracle();
    fc.assert(
      fc.property(record, fc.nat(1000), (rec, seed) => {
        expect(writesDirectly(rec)).toBe(true);
        const sdk = o.record(rec, seed);
        const direct = requestSpans(rec, counterIds(seed));
        expect(direct.spans.length).toBe(sdk.length);
        for (const s of sdk) expect(s.spanContext().traceId).toBe(direct.traceId);
        expect(hexOf(assembleGroup(o.header, direct.spans))).toBe(hexOf(encodeTraceRequest(sdk)));
      }),
      { numRuns: 400 },
    );
  });

  it('requests after requests, cut into groups of 32 spans as the queues seal them (nothing one group leaves in the caches leaks into the next)', () => {
    const o = oracle();
    fc.assert(
      fc.property(fc.array(record, { minLength: 10, maxLength: 40 }), (recs) => {
        const sdk = recs.flatMap((r, i) => o.record(r, i));
        const direct = recs.flatMap((r, i) => requestSpans(r, counterIds(i)).spans);
        for (let i = 0; i < sdk.length; i += 32) expect(hexOf(assembleGroup(o.header, direct.slice(i, i + 32)))).toBe(hexOf(encodeTraceRequest(sdk.slice(i, i + 32))));
      }),
      { numRuns: 40 },
    );
  });

  it('a caller traceparent flagged not sampled still gives every span, on both paths (DESIGN §3: never sampled; no header takes a request out of the SLIs)', () => {
    const o = oracle();
    const rec = { ...fc.sample(record, { seed: 2, numRuns: 1 })[0], traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00', tracestate: undefined } as CompletedRequest;
    const sdk = o.record(rec, 1);
    expect(sdk).toHaveLength(1 + rec.attempts.length);
    expect(sdk.every((s) => s.spanContext().traceId === '4bf92f3577b34da6a3ce929d0e0e4736')).toBe(true);
    const direct = requestSpans(rec, counterIds(1));
    expect(direct.spans).toHaveLength(1 + rec.attempts.length);
    expect(hexOf(assembleGroup(o.header, direct.spans))).toBe(hexOf(encodeTraceRequest(sdk)));
  });

  it('leaves to the SDK what the SDK would treat otherwise: performance-clock times, invalid request ids', () => {
    const base = { attempts: [] as AttemptInfo[], durationMs: 5, trace: undefined };
    const rec = (over: Partial<CompletedRequest>) => ({ ...fc.sample(record, { seed: 1, numRuns: 1 })[0], ...base, ...over }) as CompletedRequest;
    expect(writesDirectly(rec({ startedAtMs: 1_764_700_000_000 }))).toBe(true);
    expect(writesDirectly(rec({ startedAtMs: 10 }))).toBe(false);
    expect(writesDirectly(rec({ startedAtMs: Number.NaN }))).toBe(false);
    expect(writesDirectly(rec({ startedAtMs: 1_764_700_000_000, trace: { traceId: '0'.repeat(32), spanId: 'b7ad6b7169203331', flags: '01' } }))).toBe(false);
    expect(writesDirectly(rec({ startedAtMs: 1_764_700_000_000, trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: 'xyz', flags: '01' } }))).toBe(false);
  });
});
