import { ROOT_CONTEXT, trace, type AttributeValue, type Attributes, type Link, type SpanContext } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan, type SpanLimits, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { captureInput, outputOfText } from '../../gateway/telemetry/content.js';
import { SPAN_LIMITS } from '../../gateway/telemetry/bounds.js';
import { encodeTraceRequest } from '../../gateway/telemetry/otlp/index.js';
import { cachedKeys } from '../../gateway/telemetry/otlp/values.js';
import { recordSpans } from '../../gateway/telemetry/spans.js';
import { PresetIds } from '../../gateway/telemetry/trace-ids.js';

/** Keel's encoder against the SDK's serializer, the oracle: same bytes, or a hex diff to read. */
function same(spans: ReadableSpan[]): void {
  const sdk = ProtobufTraceSerializer.serializeRequest(spans);
  expect(Buffer.from(encodeTraceRequest(spans)).toString('hex')).toBe(Buffer.from(sdk ?? new Uint8Array()).toString('hex'));
}

function collecting(): { spans: ReadableSpan[]; processor: SpanProcessor } {
  const spans: ReadableSpan[] = [];
  const processor: SpanProcessor = { onStart: () => undefined, onEnd: (s) => spans.push(s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  return { spans, processor };
}

/** Strings that stress UTF-8: lone surrogates, pairs, 2- and 3-byte chars, empty, long. */
const text = fc.string({ unit: fc.oneof(fc.constantFrom('\ud800', '\udfff', '\ud83d\ude00', 'é', '€', '\u0000', '\u007f', '\u0080'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })), maxLength: 80 });
const longText = fc.oneof(text, fc.nat(3000).map((n) => 'x'.repeat(n)), fc.nat(200).map((n) => 'é'.repeat(n)));
const number = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(0, -0, 2 ** 31, 2 ** 32, 2 ** 32 - 1, -(2 ** 31), -(2 ** 32), 2 ** 53, 2 ** 62, 2 ** 63, -(2 ** 63), -(2 ** 63) - 4096, 1e300, -1e300, Number.NaN, Infinity, -Infinity, 5e-324),
);
const primitive: fc.Arbitrary<AttributeValue> = fc.oneof(longText, fc.boolean(), number);
const array: fc.Arbitrary<AttributeValue> = fc.oneof(
  fc.array(fc.option(text, { nil: undefined }), { maxLength: 5 }),
  fc.array(fc.option(number, { nil: null }), { maxLength: 5 }),
  fc.array(fc.boolean(), { maxLength: 5 }),
);
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(fc.oneof(text, fc.constantFrom('gen_ai.request.model', 'keel.route', '0', '17', '__proto__x')), fc.oneof(primitive, array, fc.constant(undefined)), { maxKeys: 12 });

const hexId = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const traceState = fc.option(fc.constantFrom('vendor=1', 'a=b,c=d', 'k@t=x-y'), { nil: undefined });
const context: fc.Arbitrary<SpanContext> = fc.record({ traceId: hexId(16), spanId: hexId(8), traceFlags: fc.nat(255), isRemote: fc.option(fc.boolean(), { nil: undefined }), ts: traceState }).map(({ ts, ...c }) => ({ ...c, ...(ts === undefined ? {} : { traceState: new TraceState(ts) }) }));
const time = fc.oneof(fc.integer({ min: 0, max: 4_000_000_000_000 }), fc.tuple(fc.nat(4_000_000_000), fc.nat(999_999_999)), fc.double({ min: 0, max: 4e12, noNaN: true }));

const spanSpec = fc.record({
  name: text,
  kind: fc.integer({ min: 0, max: 4 }),
  parent: fc.option(context, { nil: undefined }),
  attributes,
  events: fc.array(fc.record({ name: text, attributes: fc.option(fc.dictionary(text, fc.oneof(primitive, array, fc.constant(null))), { nil: undefined }), time }), { maxLength: 4 }),
  links: fc.array(fc.record({ context, attributes: fc.option(attributes, { nil: undefined }) }), { maxLength: 3 }),
  status: fc.option(fc.record({ code: fc.integer({ min: 0, max: 2 }), message: fc.option(text, { nil: undefined }) }), { nil: undefined }),
  start: time,
  duration: fc.nat(10_000_000),
  provider: fc.nat(2),
});
type SpanSpec = typeof spanSpec extends fc.Arbitrary<infer T> ? T : never;

/** Three providers: the pipeline's limits, tight limits (cuts mid-pair, drops), and a second resource with a scope version and schema URLs. */
const TIGHT: SpanLimits = { attributeValueLengthLimit: 3, attributeCountLimit: 3, eventCountLimit: 2, linkCountLimit: 1, attributePerEventCountLimit: 2, attributePerLinkCountLimit: 1 };
function providers() {
  const sink = collecting();
  const make = (limits: SpanLimits, service: string) => new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service, 'host.n': 3 }), spanLimits: limits, spanProcessors: [sink.processor] });
  const tracers = [make(SPAN_LIMITS, 'keel').getTracer('keel'), make(TIGHT, 'tight').getTracer('keel'), make(SPAN_LIMITS, 'other').getTracer('lib', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' })];
  return { sink, tracers };
}

function build(specs: SpanSpec[]): ReadableSpan[] {
  const { sink, tracers } = providers();
  for (const s of specs) {
    const tracer = tracers[s.provider] ?? tracers[0];
    if (tracer === undefined) throw new Error('tracer');
    const ctx = s.parent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, s.parent);
    const links: Link[] = s.links.map((l) => ({ context: l.context, ...(l.attributes === undefined ? {} : { attributes: l.attributes }) }));
    const span = tracer.startSpan(s.name, { kind: s.kind, startTime: s.start, attributes: s.attributes, links }, ctx);
    for (const e of s.events) span.addEvent(e.name, e.attributes as Attributes | undefined, e.time);
    if (s.status !== undefined) span.setStatus(s.status.message === undefined ? { code: s.status.code } : { code: s.status.code, message: s.status.message });
    span.end(typeof s.start === 'number' ? s.start + s.duration : s.start);
  }
  return sink.spans;
}

describe('Keel OTLP span encoder = the SDK serializer, byte for byte', () => {
  it('arbitrary spans through BasicTracerProvider (ids, parents, trace state, kinds, times, every attribute kind, events, links, statuses, drops)', () => {
    fc.assert(fc.property(fc.array(spanSpec, { maxLength: 6 }), (specs) => same(build(specs))), { numRuns: 400 });
  });

  it('values the SDK serializer handles but no SDK span carries: bytes, nested key-value lists, null, unknown types', () => {
    const odd = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.dictionary(text, fc.oneof(primitive, fc.dictionary(text, primitive, { maxKeys: 3 })), { maxKeys: 4 }),
      fc.constantFrom(null, undefined, 10n, Symbol('s'), () => 1),
      fc.array(fc.oneof(primitive, fc.uint8Array({ maxLength: 4 })), { maxLength: 4 }),
    );
    fc.assert(
      fc.property(spanSpec, fc.dictionary(text, odd, { maxKeys: 5 }), (spec, extra) => {
        const spans = build([spec]);
        for (const span of spans) Object.assign(span.attributes, extra);
        same(spans);
      }),
      { numRuns: 300 },
    );
  });

  it('a group of 32 realistic Keel spans from recordSpans (content captured, caller trace context, hedges and failures)', () => {
    const sink = collecting();
    const ids = new PresetIds();
    const tracer = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'keel' }), spanLimits: SPAN_LIMITS, spanProcessors: [sink.processor], idGenerator: ids }).getTracer('keel');
    for (let i = 0; i < 160; i++) recordSpans(tracer, realistic(i), ids);
    expect(sink.spans.length).toBeGreaterThanOrEqual(320);
    // Group after group, as the processor seals them: what one group leaves in the caches must not leak into the next.
    for (let i = 0; i < sink.spans.length; i += 32) same(sink.spans.slice(i, i + 32));
    same(sink.spans);
    same([]);
  });

  it('more distinct keys than the key cache holds still encode the same, and the cache stays bounded', () => {
    const { sink, tracers } = providers();
    const tracer = tracers[0];
    if (tracer === undefined) throw new Error('tracer');
    for (let i = 0; i < 30; i++) {
      const attrs: Attributes = {};
      for (let k = 0; k < 100; k++) attrs[`caller.key.${i}.${k}`] = k;
      tracer.startSpan('s', { attributes: attrs }).end();
    }
    same(sink.spans);
    expect(cachedKeys()).toBeLessThanOrEqual(2048);
  });
});

const attempt = (over: Partial<AttemptInfo>): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: 'primary', startMs: 1, durationMs: 100, ttftMs: 40,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 }, ...over,
});

function realistic(i: number): CompletedRequest {
  const content = i % 3 === 0 ? captureInput({ model: 'chat', system: 'be brief ☃', messages: [{ role: 'user', content: [{ type: 'text', text: `question ${i} ${'é'.repeat(i * 40)}` }] }], stream: false, streamUsage: false, original: { format: 'openai-chat', body: {} } }) : undefined;
  if (content !== undefined) content.output = outputOfText('answer '.repeat(i * 20), 'stop');
  return {
    requestId: `req-${i}`, operation: 'chat', startedAtMs: 1_764_700_000_000 + i * 7.25, traceparent: i % 2 === 0 ? `00-4bf92f3577b34da6a3ce929d0e0e47${String(i).padStart(2, '0')}-00f067aa0ba902b7-01` : undefined, tracestate: i % 4 === 0 ? 'vendor=1' : undefined,
    ingressFormat: 'openai-chat', route: 'chat', provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini-2024', stream: i % 2 === 1, clientId: 'app', team: 'search', customer: 'acme', keyMetadata: { env: 'prod' }, guardrails: [], configVersion: 3,
    status: i % 5 === 0 ? 502 : 200, errorCode: i % 5 === 0 ? 'KEEL_UPSTREAM_ERROR' : undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 500 + i, ttftMs: 120, interTokenMs: [10, 30, 20, 40], usage: { inputTokens: 1000 + i, outputTokens: 200, cacheReadTokens: 400 },
    finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
    attempts: i % 2 === 0 ? [attempt({ ok: false, errorCode: 'KEEL_UPSTREAM_RATE_LIMITED', upstreamCode: 'rate_limit_exceeded', errorClass: 'provider_rate_limit' }), attempt({ reason: 'retry', startMs: 200 })] : [attempt({})],
    fallbacks: 0, retries: i % 2 === 0 ? 1 : 0, hedged: false, continued: false, weightsVersion: 'v2', content, cache: undefined,
  };
}
