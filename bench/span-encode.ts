import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pathToFileURL } from 'node:url';
import type { AttemptInfo, CompletedRequest } from '../gateway/pipeline/record.js';
import { SPAN_LIMITS } from '../gateway/telemetry/bounds.js';
import { groupEncoder } from '../gateway/telemetry/group-encoder.js';
import { encodeSpans } from '../gateway/telemetry/otlp-encoded.js';
import { encodeTraceRequest } from '../gateway/telemetry/otlp/index.js';
import { assembleGroup, groupHeader } from '../gateway/telemetry/otlp/index.js';
import { QueueingSpanProcessor, SpanQueue } from '../gateway/telemetry/processor.js';
import { requestSpans } from '../gateway/telemetry/request-spans.js';
import { recordSpans } from '../gateway/telemetry/spans.js';
import { PresetIds } from '../gateway/telemetry/trace-ids.js';

/**
 * In-process CPU per span of OTLP span encoding, the SDK's serializer against Keel's, on
 * realistic Keel spans (recordSpans of CompletedRequests like the bench's: a SERVER span and
 * one or two CLIENT spans, ~40 attributes each, no captured content) in groups of 32, as the
 * processor seals them. Encoders are interleaved within each round, the order alternating.
 * Usage: node dist/bench/span-encode.js   (BENCH_ROUNDS, BENCH_GROUPS; BENCH_ENCODERS=a.js,b.js
 * adds variants: modules exporting encodeTraceRequest, for A/B of encoder changes in one run;
 * BENCH_ENCODE=0, BENCH_DESTINATIONS=0, BENCH_RECORDS=0 skip a part)
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 11);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 400);
const GROUP = 32;

const attempt = (over: Partial<AttemptInfo>): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: 'primary', startMs: 1, durationMs: 100, ttftMs: 40,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 }, ...over,
});

function request(i: number): CompletedRequest {
  return {
    requestId: `req-${i}-0b1f7c9e`, operation: 'chat', startedAtMs: 1_764_700_000_000 + i * 3.5, traceparent: undefined, tracestate: undefined,
    ingressFormat: 'openai-chat', route: 'chat', provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini-2024-07-18', stream: i % 2 === 1, clientId: 'bench-app', team: 'search', customer: 'acme', keyMetadata: { env: 'prod' }, guardrails: [], configVersion: 3,
    status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 500 + (i % 97), ttftMs: 120, interTokenMs: [10, 30, 20, 40], usage: { inputTokens: 1000 + i, outputTokens: 200, cacheReadTokens: 400 },
    finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
    attempts: i % 8 === 0 ? [attempt({ ok: false, errorCode: 'KEEL_UPSTREAM_RATE_LIMITED', upstreamCode: 'rate_limit_exceeded', errorClass: 'provider_rate_limit' }), attempt({ reason: 'retry', startMs: 200 })] : [attempt({})],
    fallbacks: 0, retries: i % 8 === 0 ? 1 : 0, hedged: false, continued: false, weightsVersion: 'v2', content: undefined, cache: undefined,
  };
}

function groups(): ReadableSpan[][] {
  const spans: ReadableSpan[] = [];
  const ids = new PresetIds();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'keel' }), spanLimits: SPAN_LIMITS, idGenerator: ids,
    spanProcessors: [{ onStart: () => undefined, onEnd: (s) => spans.push(s), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() }],
  });
  const tracer = provider.getTracer('keel');
  for (let i = 0; spans.length < GROUPS * GROUP; i++) recordSpans(tracer, request(i), ids);
  const out: ReadableSpan[][] = [];
  for (let i = 0; i < GROUPS; i++) out.push(spans.slice(i * GROUP, (i + 1) * GROUP));
  return out;
}

type Encode = (spans: ReadableSpan[]) => Uint8Array;

function cpuUs(encode: Encode, gs: ReadableSpan[][]): number {
  const t = process.cpuUsage();
  for (const g of gs) encode(g);
  const d = process.cpuUsage(t);
  return d.user + d.system;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Two destinations (sample 1 each, discarding exporters) behind one provider, as
 * span-pipeline.ts builds them: CPU per request to record and encode, each destination
 * encoding its own groups against one encoding shared (group-encoder.ts).
 */
async function twoDestinations(shared: boolean, requests: number): Promise<number> {
  const encode = shared ? groupEncoder<ReadableSpan>(2, encodeSpans) : encodeSpans;
  const processors = [0, 1].map(() => new QueueingSpanProcessor(discard, { maxQueue: 1_000_000, batchSize: 512, flushMs: 1_000, sample: 1, onDrop: () => undefined, encode }));
  const ids = new PresetIds();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'keel' }), spanLimits: SPAN_LIMITS, idGenerator: ids, spanProcessors: processors });
  const tracer = provider.getTracer('keel');
  const t = process.cpuUsage();
  for (let i = 0; i < requests; i++) recordSpans(tracer, request(i), ids);
  await provider.forceFlush();
  const d = process.cpuUsage(t);
  await provider.shutdown();
  return (d.user + d.system) / requests;
}

async function destinations(): Promise<void> {
  const requests = GROUPS * 16;
  const runs = { separate: [] as number[], shared: [] as number[] };
  for (let i = 0; i < 2; i++) await twoDestinations(i === 0, requests);
  for (let r = 0; r < ROUNDS; r++) {
    const first = r % 2 === 0;
    runs[first ? 'separate' : 'shared'].push(await twoDestinations(!first, requests));
    runs[first ? 'shared' : 'separate'].push(await twoDestinations(first, requests));
  }
  process.stdout.write(`two destinations: ${requests} requests recorded and encoded per round, ${ROUNDS} rounds, CPU µs per request\n`);
  for (const [name, xs] of Object.entries(runs)) process.stdout.write(`  ${name.padEnd(12)} median ${median(xs).toFixed(3)}  range ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}\n`);
}

const discard = { export: (_b: unknown, done: (r: { code: number }) => void) => done({ code: 0 }), shutdown: () => Promise.resolve() };

/**
 * One destination, as span-pipeline.ts builds it: CPU per request from the record to queued
 * groups, through the SDK's spans (recordSpans, encoded by Keel's encoder at each seal) or
 * written from the record (request-spans.ts, groups put together by otlp/group.ts).
 */
async function fromRecord(direct: boolean, requests: number): Promise<number> {
  const resource = resourceFromAttributes({ 'service.name': 'keel' });
  const o = { maxQueue: 1_000_000, batchSize: 512, flushMs: 1_000, sample: 1, onDrop: () => undefined };
  const t = process.cpuUsage();
  if (direct) {
    const header = groupHeader(resource, { name: 'keel' });
    const queue = new SpanQueue<Uint8Array>(discard, o, (spans) => ({ bytes: assembleGroup(header, spans), spans: spans.length }));
    for (let i = 0; i < requests; i++) {
      const r = requestSpans(request(i));
      for (const span of r.spans) queue.add(span, r.traceId);
    }
    await queue.shutdown();
  } else {
    const ids = new PresetIds();
    const provider = new BasicTracerProvider({ resource, spanLimits: SPAN_LIMITS, idGenerator: ids, spanProcessors: [new QueueingSpanProcessor(discard, o)] });
    const tracer = provider.getTracer('keel');
    for (let i = 0; i < requests; i++) recordSpans(tracer, request(i), ids);
    await provider.shutdown();
  }
  const d = process.cpuUsage(t);
  return (d.user + d.system) / requests;
}

async function records(): Promise<void> {
  const requests = GROUPS * 16;
  const runs = { sdk: [] as number[], direct: [] as number[] };
  for (let i = 0; i < 3; i++) for (const direct of [false, true]) await fromRecord(direct, requests);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? [false, true] : [true, false];
    for (const direct of order) runs[direct ? 'direct' : 'sdk'].push(await fromRecord(direct, requests));
  }
  process.stdout.write(`from the record: ${requests} requests to queued groups per round, ${ROUNDS} rounds, CPU µs per request\n`);
  for (const [name, xs] of Object.entries(runs)) process.stdout.write(`  ${name.padEnd(12)} median ${median(xs).toFixed(3)}  range ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}\n`);
}

async function main(): Promise<void> {
  const encoders: [string, Encode][] = [
    ['sdk', (s) => ProtobufTraceSerializer.serializeRequest(s) ?? new Uint8Array()],
    ['keel', encodeTraceRequest],
  ];
  for (const path of (process.env.BENCH_ENCODERS ?? '').split(',').filter((p) => p !== '')) {
    const mod = (await import(pathToFileURL(path).href)) as { encodeTraceRequest: Encode };
    encoders.push([path, mod.encodeTraceRequest]);
  }
  const gs = groups();
  const bytes = gs.reduce((n, g) => n + encodeTraceRequest(g).length, 0);
  const results = new Map<string, number[]>(encoders.map(([name]) => [name, []]));
  for (const [, e] of encoders) for (let i = 0; i < 3; i++) cpuUs(e, gs); // warm up the JIT
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? encoders : [...encoders].reverse();
    for (const [name, e] of order) results.get(name)?.push(cpuUs(e, gs) / (GROUPS * GROUP));
  }
  process.stdout.write(`span-encode: ${GROUPS} groups of ${GROUP} spans, ${(bytes / (GROUPS * GROUP)).toFixed(0)} B/span, ${ROUNDS} rounds, CPU µs per span\n`);
  for (const [name, xs] of results) process.stdout.write(`  ${name.padEnd(12)} median ${median(xs).toFixed(3)}  range ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}\n`);
}

if (process.env.BENCH_ENCODE !== '0') await main();
if (process.env.BENCH_DESTINATIONS !== '0') await destinations();
if (process.env.BENCH_RECORDS !== '0') await records();
