import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportResultCode } from '@opentelemetry/core';
import fc from 'fast-check';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeRequest } from '../../collector/otlp/decode.js';
import type { AnyValue, Span as OtlpSpan } from '../../collector/otlp/types.js';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { batchLength, boundedJson, clip, CONTENT_CHARS, EXPORT_BATCH_BYTES, IDENTIFIER_CHARS, SPAN_LIMITS, SPAN_NAME_MODEL_CHARS } from '../../gateway/telemetry/bounds.js';
import { captureInput, outputOfText } from '../../gateway/telemetry/content.js';
import type { EncodedSpans } from '../../gateway/telemetry/otlp-encoded.js';
import { QueueingSpanProcessor } from '../../gateway/telemetry/processor.js';
import { createSpanPipeline } from '../../gateway/telemetry/span-pipeline.js';

const MB5 = 5 * 1024 * 1024;
const huge = (c: string) => c.repeat(MB5);

const attempt = (over: Partial<AttemptInfo> = {}): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-up', reason: 'primary', startMs: 1, durationMs: 100, ttftMs: undefined,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: '127.0.0.1', serverPort: 443, price: undefined, ...over,
});

function record(over: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    requestId: 'r1', operation: 'chat', startedAtMs: Date.now(), traceparent: undefined, tracestate: undefined, ingressFormat: 'openai-chat', route: 'chat',
    provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-up', stream: false, clientId: 'app', team: 'search', customer: 'acme', keyMetadata: {}, guardrails: [], configVersion: 1,
    status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 200, ttftMs: undefined, interTokenMs: [], usage: { inputTokens: 10, outputTokens: 2 },
    finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false, attempts: [attempt()],
    fallbacks: 0, retries: 0, hedged: false, continued: false, weightsVersion: 'v1', content: undefined, cache: undefined, ...over,
  };
}

const textMessage = (role: string, text: string) => ({ role, parts: [{ type: 'text', content: text }] });

/** An OTLP/HTTP endpoint that keeps each export's body size and decoded spans. */
async function sink(): Promise<{ url: string; server: Server; bodies: number[]; spans: OtlpSpan[] }> {
  const got = { bodies: [] as number[], spans: [] as OtlpSpan[] };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      got.bodies.push(body.length);
      const decoded = decodeRequest('traces', body, 'protobuf', req.headers['content-encoding'] === 'gzip');
      for (const rs of decoded.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) got.spans.push(...(ss.spans ?? []));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, ...got };
}

function stringsOf(v: AnyValue | undefined): string[] {
  if (v?.stringValue !== undefined) return [v.stringValue];
  return (v?.arrayValue?.values ?? []).flatMap(stringsOf);
}

const CONTENT_KEYS = new Set(['gen_ai.input.messages', 'gen_ai.output.messages', 'gen_ai.system_instructions']);

describe('clip', () => {
  it('leaves short strings alone and cuts long ones to the limit, marked', () => {
    expect(clip('gpt-4o', 128)).toBe('gpt-4o');
    const cut = clip('x'.repeat(1000), 128);
    expect(cut).toHaveLength(128);
    expect(cut.endsWith('…')).toBe(true);
  });

  it('never leaves half a surrogate pair', () => {
    const cut = clip('😀'.repeat(100), 10);
    expect(cut.length).toBeLessThanOrEqual(10);
    expect(/[\ud800-\udbff](?![\udc00-\udfff])/.test(cut)).toBe(false);
    expect(cut).toBe(`${'😀'.repeat(4)}…`);
  });
});

describe('boundedJson (captured content)', () => {
  it('small content is the plain JSON, not marked', () => {
    const items = [textMessage('user', 'hi')];
    expect(boundedJson(items, CONTENT_CHARS)).toEqual({ json: JSON.stringify(items), truncated: false });
  });

  it('a 5 MB message becomes valid JSON within the cap that keeps the shape and the other messages whole', () => {
    const { json, truncated } = boundedJson([textMessage('user', 'short question'), textMessage('assistant', huge('a')), textMessage('user', 'follow-up')], CONTENT_CHARS);
    expect(truncated).toBe(true);
    expect(json.length).toBeLessThanOrEqual(CONTENT_CHARS);
    const back = JSON.parse(json) as { role: string; parts: { content: string }[] }[];
    expect(back.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(back[0]?.parts[0]?.content).toBe('short question');
    expect(back[2]?.parts[0]?.content).toBe('follow-up');
    // The cut is the longest that fits: most of the budget goes to the long text.
    expect(back[1]?.parts[0]?.content.length).toBeGreaterThan(CONTENT_CHARS * 0.9);
  });

  it('too many messages to fit even cut: the newest are kept', () => {
    const items = Array.from({ length: 50_000 }, (_, i) => textMessage('user', `m${i}`));
    const { json, truncated } = boundedJson(items, CONTENT_CHARS);
    expect(truncated).toBe(true);
    expect(json.length).toBeLessThanOrEqual(CONTENT_CHARS);
    const back = JSON.parse(json) as { parts: { content: string }[] }[];
    expect(back.length).toBeGreaterThan(100);
    expect(back[back.length - 1]?.parts[0]?.content).toBe('m49999');
  });

  it('any list, any cap: valid JSON within the cap; unchanged when it fits; the newest item kept first', () => {
    const part = fc.record({ type: fc.constant('text'), content: fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 2_000 }), fc.nat({ max: 20_000 }).map((n) => 'z'.repeat(n))) });
    const message = fc.record({ role: fc.constantFrom('user', 'assistant', 'tool'), parts: fc.array(part, { maxLength: 3 }) });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 40 }), fc.integer({ min: 200, max: 20_000 }), (items, max) => {
        const { json, truncated } = boundedJson(items, max);
        expect(json.length).toBeLessThanOrEqual(max);
        const back = JSON.parse(json) as typeof items;
        expect(truncated).toBe(JSON.stringify(items).length > max);
        if (!truncated) expect(back).toEqual(items);
        else if (back.length > 0) expect(back[back.length - 1]?.role).toBe(items[items.length - 1]?.role);
      }),
      { numRuns: 500 },
    );
  });

  it('capture keeps no string longer than an attribute could hold, so a 5 MB prompt is not cloned to the span thread', () => {
    const c = captureInput({
      model: 'chat', system: huge('s'), messages: [{ role: 'user', content: [{ type: 'text', text: huge('u') }, { type: 'image', source: { kind: 'url', url: huge('h') } }] }], stream: false, streamUsage: false,
      original: { format: 'openai-chat', body: {} },
    });
    c.output = outputOfText(huge('o'), 'stop');
    const longest = Math.max(...(JSON.stringify(c).match(/"(?:[^"\\]|\\.)*"/g) ?? []).map((q) => q.length - 2));
    expect(longest).toBe(CONTENT_CHARS);
    expect(JSON.stringify(c).length).toBeLessThan(5 * CONTENT_CHARS);
  });

  it('lone surrogates (escaped to 6 chars each by JSON.stringify) still fit the cap', () => {
    const { json } = boundedJson([textMessage('user', '\ud800'.repeat(200_000))], CONTENT_CHARS);
    expect(json.length).toBeLessThanOrEqual(CONTENT_CHARS);
    expect(() => JSON.parse(json) as unknown).not.toThrow();
  });
});

describe('span limits (the SDK backstop)', () => {
  it('cuts any attribute value at CONTENT_CHARS and keeps at most 128 attributes', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanLimits: SPAN_LIMITS, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('t').startSpan('s');
    span.setAttribute('big', 'b'.repeat(1_000_000));
    for (let i = 0; i < 200; i++) span.setAttribute(`k${i}`, i);
    span.end();
    await provider.forceFlush();
    const [done] = exporter.getFinishedSpans();
    expect(String(done?.attributes.big)).toHaveLength(CONTENT_CHARS);
    expect(Object.keys(done?.attributes ?? {})).toHaveLength(128);
    expect(done?.droppedAttributesCount).toBe(201 - 128);
  });
});

describe('batchLength', () => {
  // Groups of encoded spans: [bytes, spans].
  const q = (...groups: [number, number][]) => groups.map(([bytes, spans]) => ({ bytes: { length: bytes }, spans }));
  it.each([
    [q([1, 1], [1, 1], [1, 1]), 2, 100, 2],
    [q([40, 1], [40, 1], [40, 1]), 10, 100, 2],
    [q([60, 1], [60, 1]), 10, 100, 1],
    [q([500, 1], [1, 1]), 10, 100, 1],
    [q([100, 1]), 10, 100, 1],
    [q([10, 3], [10, 3], [10, 3]), 7, 100, 2],
    [q([10, 12], [10, 1]), 7, 100, 1],
    [q(), 10, 100, 0],
  ])('%j, at most %i spans and %i bytes → %i groups', (queue, maxSpans, maxBytes, n) => {
    expect(batchLength(queue, maxSpans, maxBytes)).toBe(n);
  });
});

describe('the export queue bound in bytes', () => {
  it('drops and counts spans beyond maxQueueBytes while an export is in flight', async () => {
    let dropped = 0;
    const exported: number[] = [];
    const bytes: number[] = [];
    const exporter = {
      export: (batch: EncodedSpans[], done: (r: { code: ExportResultCode }) => void) => {
        exported.push(batch.reduce((n, g) => n + g.spans, 0));
        bytes.push(batch.reduce((n, g) => n + g.bytes.length, 0));
        // Slow enough that the spans below pile up behind the first export.
        setTimeout(() => done({ code: ExportResultCode.SUCCESS }), 400);
      },
      shutdown: async () => undefined,
    };
    const q = new QueueingSpanProcessor(exporter, { maxQueue: 1_000, maxQueueBytes: 10_000, batchSize: 512, maxBatchBytes: 4_000, flushMs: 10, sample: 1, onDrop: (n) => (dropped += n) });
    const provider = new BasicTracerProvider({ spanProcessors: [q] });
    // Spans further apart than the processor's seal delay (10 ms): each its own encoded group.
    for (let i = 0; i < 20; i++) {
      provider.getTracer('t').startSpan('s', { attributes: { a: 'x'.repeat(1_000) } }).end();
      await new Promise((r) => setTimeout(r, 15));
    }
    await provider.forceFlush();
    const sent = exported.reduce((a, b) => a + b, 0);
    expect(dropped).toBeGreaterThan(0);
    expect(sent + dropped).toBe(20);
    // ~1.1 kB encoded each: three fit under 4,000 bytes, never more, and no export is past the bound.
    expect(exported.length).toBeGreaterThan(0);
    expect(Math.max(...exported)).toBeLessThanOrEqual(3);
    expect(Math.max(...bytes)).toBeLessThanOrEqual(4_000);
  });
});

describe('spans of hostile records, through the real pipeline and OTLP exporter', () => {
  let s: Awaited<ReturnType<typeof sink>>;
  let drops: number;
  beforeAll(async () => {
    s = await sink();
  });
  afterAll(() => s.server.close());
  beforeEach(() => {
    s.bodies.length = 0;
    s.spans.length = 0;
    drops = 0;
  });
  const pipeline = () =>
    createSpanPipeline({ serviceName: 'keel-test', destinations: [{ name: 'sink', url: `${s.url}/v1/traces`, sample: 1 }], maxQueueSpans: 10_000, flushMs: 20, exportTimeoutMs: 10_000 }, (_d, n) => (drops += n));

  it('a 5 MB model, request id, key id and provider code yield a span name ≤ 128 chars of model and identifiers ≤ 256', async () => {
    const p = pipeline();
    const content = { system: [{ type: 'text', content: huge('s') }], input: [textMessage('user', huge('i'))], output: [textMessage('assistant', 'ok')] };
    p.record(record({
      requestModel: huge('m'), responseModel: huge('r'), requestId: huge('q'), route: huge('t'), clientId: huge('k'), team: huge('e'), upstreamCode: huge('u'), errorCode: 'KEEL_UPSTREAM_ERROR',
      attempts: [attempt({ model: huge('a'), ok: false, upstreamCode: huge('u'), errorCode: 'KEEL_UPSTREAM_ERROR' })], content,
    }));
    await p.shutdown();
    expect(s.spans).toHaveLength(2);
    expect(drops).toBe(0);
    for (const span of s.spans) {
      expect(span.name?.length).toBeLessThanOrEqual('chat '.length + SPAN_NAME_MODEL_CHARS);
      expect(span.name?.startsWith('chat ')).toBe(true);
      for (const kv of span.attributes ?? []) {
        const cap = CONTENT_KEYS.has(kv.key ?? '') ? CONTENT_CHARS : IDENTIFIER_CHARS;
        for (const v of stringsOf(kv.value)) expect(v.length, kv.key).toBeLessThanOrEqual(cap);
      }
    }
    const server = s.spans.find((x) => x.kind === 2);
    const attr = (k: string) => server?.attributes?.find((kv) => kv.key === k)?.value;
    expect(JSON.parse(attr('gen_ai.input.messages')?.stringValue ?? '')).toMatchObject([{ role: 'user', parts: [{ type: 'text' }] }]);
    expect(attr('keel.content.truncated')?.boolValue).toBe(true);
    expect(attr('gen_ai.request.model')?.stringValue).toHaveLength(IDENTIFIER_CHARS);
    // 8 fields of 5 MB each went in; the export is two spans of bounded size.
    expect(s.bodies.reduce((a, b) => a + b, 0)).toBeLessThan(3 * CONTENT_CHARS + 64 * 1024);
  });

  it('a burst of large spans leaves in several exports, each under the byte bound, none lost', async () => {
    const p = pipeline();
    const big = 60_000;
    const content = { system: [{ type: 'text', content: 's'.repeat(big) }], input: [textMessage('user', 'i'.repeat(big))], output: [textMessage('assistant', 'o'.repeat(big))] };
    for (let i = 0; i < 60; i++) p.record(record({ requestId: `r${i}`, content }));
    await p.shutdown();
    expect(drops).toBe(0);
    expect(s.spans).toHaveLength(120);
    // ~180 kB per SERVER span, 60 of them: at least three exports of at most 4 MiB.
    expect(s.bodies.length).toBeGreaterThanOrEqual(3);
    for (const bytes of s.bodies) expect(bytes).toBeLessThanOrEqual(EXPORT_BATCH_BYTES);
  });
});
