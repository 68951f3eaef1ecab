import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BasicTracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../config/audit.js';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { SPAN_LIMITS } from '../../gateway/telemetry/bounds.js';
import { groupEncoder } from '../../gateway/telemetry/group-encoder.js';
import { encodeSpans, otlpEncodedExporter } from '../../gateway/telemetry/otlp-encoded.js';
import { QueueingSpanProcessor } from '../../gateway/telemetry/processor.js';
import { createSpanPipeline } from '../../gateway/telemetry/span-pipeline.js';
import { recordSpans } from '../../gateway/telemetry/spans.js';
import { PresetIds } from '../../gateway/telemetry/trace-ids.js';

/**
 * What each destination receives from the span pipeline (spans written from the record)
 * against the pipeline as it was (the SDK's tracer with one QueueingSpanProcessor per
 * destination, groups encoded by encodeSpans, shared by group-encoder.ts): the same export
 * bodies, byte for byte, for a sampled and an unsampled destination side by side.
 */

/** An OTLP/HTTP endpoint keeping every export body, by path. */
async function sink(): Promise<{ url: string; server: Server; bodies: Map<string, string[]> }> {
  const bodies = new Map<string, string[]>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const list = bodies.get(req.url ?? '') ?? [];
      list.push(Buffer.concat(chunks).toString('hex'));
      bodies.set(req.url ?? '', list);
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, bodies };
}

const hex = (n: number, digits: number) => (n + 1).toString(16).padStart(digits, '0');

const attempt = (i: number, k: number, over: Partial<AttemptInfo> = {}): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: k === 0 ? 'primary' : 'retry', startMs: 1 + k * 100, durationMs: 90, ttftMs: 40,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 }, spanId: hex(i * 10 + k, 16), ...over,
});

/** Every id decided by the record (as the pipeline's records do), so both pipelines write the same spans. */
function request(i: number): CompletedRequest {
  const failedFirst = i % 3 === 0;
  return {
    requestId: `req-${i}`, operation: 'chat', startedAtMs: 1_764_700_000_000 + i * 3.25, traceparent: i % 4 === 1 ? `00-4bf92f3577b34da6a3ce929d0e0e47${hex(i, 2).slice(-2)}-00f067aa0ba902b7-0${i % 8 === 5 ? 0 : 1}` : undefined,
    tracestate: i % 4 === 1 ? 'vendor=1' : undefined, trace: { traceId: hex(i * 7919, 32), spanId: hex(i * 31, 16), flags: '01' },
    ingressFormat: 'openai-chat', route: 'chat', provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini-2024', stream: i % 2 === 1, clientId: 'app', team: 'search', customer: undefined,
    keyMetadata: { env: 'prod' }, guardrails: [], configVersion: 3, status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 500 + i, ttftMs: 120, interTokenMs: [10, 30, 20],
    usage: { inputTokens: 1000 + i, outputTokens: 200 }, finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
    attempts: failedFirst ? [attempt(i, 0, { ok: false, errorCode: 'KEEL_UPSTREAM_RATE_LIMITED', errorClass: 'provider_rate_limit' }), attempt(i, 1)] : [attempt(i, 0)],
    fallbacks: 0, retries: failedFirst ? 1 : 0, hedged: false, continued: false, weightsVersion: 'v2', content: undefined, cache: undefined,
  };
}

const DESTINATIONS = [{ name: 'collector', path: '/collector', sample: 1 }, { name: 'export[0]', path: '/apm', sample: 0.5 }];

/** The pipeline as it was before spans were written from the record. */
function sdkPipeline(base: string) {
  const encode = groupEncoder<ReadableSpan>(DESTINATIONS.length, encodeSpans);
  const processors = DESTINATIONS.map((d) => new QueueingSpanProcessor(otlpEncodedExporter({ url: `${base}${d.path}/v1/traces` }), { maxQueue: 100_000, batchSize: 512, flushMs: 60_000, sample: d.sample, onDrop: () => undefined, encode }));
  const ids = new PresetIds();
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'keel' }), spanProcessors: processors, spanLimits: SPAN_LIMITS, idGenerator: ids, sampler: new AlwaysOnSampler() });
  const tracer = provider.getTracer('keel');
  return { record: (rec: CompletedRequest) => recordSpans(tracer, rec, ids), shutdown: () => provider.shutdown() };
}

const directPipeline = (base: string) =>
  createSpanPipeline({ serviceName: 'keel', destinations: DESTINATIONS.map((d) => ({ name: d.name, url: `${base}${d.path}/v1/traces`, sample: d.sample })), maxQueueSpans: 100_000, flushMs: 60_000, exportTimeoutMs: 10_000 }, () => undefined);

describe('the span pipeline sends what the SDK-span pipeline sent', () => {
  let old: Awaited<ReturnType<typeof sink>>;
  let now: Awaited<ReturnType<typeof sink>>;
  beforeAll(async () => {
    [old, now] = await Promise.all([sink(), sink()]);
  });
  afterAll(() => {
    old.server.close();
    now.server.close();
  });

  it('the same export bodies to every destination, sampled or not, groups sealed at 32 spans and by flush', async () => {
    const a = sdkPipeline(old.url);
    const b = directPipeline(now.url);
    // All in one turn of the loop: groups are cut by count, the rest by the final flush, on both sides alike.
    for (let i = 0; i < 300; i++) {
      a.record(request(i));
      b.record(request(i));
    }
    await Promise.all([a.shutdown(), b.shutdown()]);
    for (const d of DESTINATIONS) {
      const got = now.bodies.get(`${d.path}/v1/traces`) ?? [];
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(old.bodies.get(`${d.path}/v1/traces`));
    }
  });

  it('audit spans (the SDK path) and request spans (the direct path) share the queues and the groups', async () => {
    const s = await sink();
    const spans: string[] = [];
    const p = createSpanPipeline({ serviceName: 'keel', destinations: [{ name: 'collector', url: `${s.url}/v1/traces`, sample: 1 }], maxQueueSpans: 100_000, flushMs: 60_000, exportTimeoutMs: 10_000 }, (d, n) => spans.push(`${d}:${n}`));
    const audit: AuditRecord = { ts: 1_764_700_000_000, source: 'gateway', event: 'config_reloaded', subject: 'keel.yaml', detail: '{}', instance: 'gw-1', actor: 'SIGHUP', config_version: 4, config_hash: 'abc' };
    p.audit([audit]);
    p.record(request(1));
    p.audit([audit]);
    await p.shutdown();
    s.server.close();
    const bodies = s.bodies.get('/v1/traces') ?? [];
    expect(spans).toEqual([]);
    expect(bodies).toHaveLength(1);
    // One ResourceSpans with one ScopeSpans holding all four spans: the audit span's name on both sides of the request's.
    const body = Buffer.from(bodies[0] ?? '', 'hex').toString('latin1');
    expect(body.split('keel.audit').length - 1).toBeGreaterThanOrEqual(2);
    expect(body.indexOf('keel.audit')).toBeLessThan(body.indexOf('req-1'));
    expect(body.lastIndexOf('keel.audit')).toBeGreaterThan(body.lastIndexOf('req-1'));
  });
});
