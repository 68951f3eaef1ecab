import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { recordSpans } from '../../gateway/telemetry/spans.js';

/**
 * OTLP protobuf bodies holding the gateway's own spans (recordSpans, as in production):
 * one SERVER and one or two CLIENT spans per request, a mix of streams, retries and
 * fallbacks, so the collector's views work as hard as on real traffic.
 */
function attempt(i: number, ok: boolean, reason: AttemptInfo['reason'], startMs: number): AttemptInfo {
  return {
    provider: i % 2 === 0 ? 'openai' : 'anthropic', genAiProvider: i % 2 === 0 ? 'openai' : 'anthropic', providerType: 'openai', model: i % 3 === 0 ? 'gpt-4o-mini' : 'gpt-4o',
    reason, startMs, durationMs: 300 + (i % 700), ttftMs: 80 + (i % 200), ok, errorCode: ok ? undefined : 'KEEL_UPSTREAM_ERROR', upstreamCode: ok ? undefined : 'server_error',
    errorClass: ok ? undefined : 'provider_error', serverAddress: 'api.example.com', serverPort: 443, price: { input: 0.15, output: 0.6 },
  };
}

function request(i: number, now: number, idPrefix: string): CompletedRequest {
  const retried = i % 10 === 0;
  const attempts = retried ? [attempt(i, false, 'primary', 0), attempt(i, true, 'retry', 120)] : [attempt(i, true, 'primary', 0)];
  return {
    requestId: `${idPrefix}${i}`, operation: 'chat', startedAtMs: now - 1000 + (i % 1000), traceparent: undefined, tracestate: undefined, ingressFormat: 'openai-chat', route: `route-${i % 4}`,
    provider: attempts.at(-1)?.provider, providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini-2024', stream: i % 2 === 0, clientId: `app-${i % 8}`, team: `team-${i % 3}`, customer: `cust-${i % 2}`, keyMetadata: {}, guardrails: [],
    configVersion: 1, status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 400 + (i % 900), ttftMs: i % 2 === 0 ? 90 + (i % 150) : undefined,
    interTokenMs: i % 2 === 0 ? [12, 15, 9, 30, 11] : [], usage: { inputTokens: 200 + (i % 500), outputTokens: 50 + (i % 300), cacheReadTokens: 0 }, finishReason: 'stop',
    malformedChunks: 0, streamTruncated: false, endSynthesized: false, attempts, fallbacks: 0, retries: retried ? 1 : 0, hedged: false, continued: false, weightsVersion: 'v1', content: undefined, cache: undefined,
  };
}

/**
 * `batches` OTLP bodies of about `perBatch` spans each; returns them with their exact span counts.
 * Request ids are `${idPrefix}${i}`, i counting from `first` (bench:ingest's visibility probes
 * name their requests so they can look for them in llm_requests).
 */
export function spanBatches(batches: number, perBatch: number, idPrefix = 'r', first = 0): { body: Uint8Array; spans: number }[] {
  let captured: ReadableSpan[] = [];
  const capture: SpanProcessor = { onStart: () => undefined, onEnd: (s) => void captured.push(s), forceFlush: async () => undefined, shutdown: async () => undefined };
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'keel-bench' }), spanProcessors: [capture] });
  const tracer = provider.getTracer('keel');
  const now = Date.now();
  const out: { body: Uint8Array; spans: number }[] = [];
  let i = first;
  for (let b = 0; b < batches; b++) {
    captured = [];
    while (captured.length < perBatch) recordSpans(tracer, request(i++, now, idPrefix));
    const body = ProtobufTraceSerializer.serializeRequest(captured);
    if (body === undefined) throw new Error('the OTLP serializer returned nothing');
    out.push({ body, spans: captured.length });
  }
  return out;
}
