import { describe, expect, it } from 'vitest';
import type { AttemptInfo, CompletedRequest } from '../../gateway/pipeline/record.js';
import { attemptAttributes, itlStats, requestAttributes } from '../../gateway/telemetry/attributes.js';
import { captureInput, outputOfText } from '../../gateway/telemetry/content.js';
import { costUsd } from '../../gateway/runtime/prices.js';

const attempt = (over: Partial<AttemptInfo>): AttemptInfo => ({
  provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: 'primary', startMs: 1, durationMs: 100, ttftMs: 40,
  ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 }, ...over,
});

function record(over: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    requestId: 'r1', operation: 'chat', startedAtMs: 1_700_000_000_000, traceparent: undefined, tracestate: undefined, ingressFormat: 'openai-chat', route: 'chat',
    provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini-2024', stream: true, clientId: 'app', team: 'search', customer: 'acme', keyMetadata: { env: 'prod' }, guardrails: [], configVersion: 3,
    status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 500, ttftMs: 120, interTokenMs: [10, 30, 20, 40], usage: { inputTokens: 1000, outputTokens: 200, cacheReadTokens: 400 },
    finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
    attempts: [attempt({ ok: false, errorCode: 'KEEL_UPSTREAM_RATE_LIMITED', upstreamCode: 'rate_limit_exceeded', errorClass: 'provider_rate_limit' }), attempt({ reason: 'retry', startMs: 200 })],
    fallbacks: 0, retries: 1, hedged: false, continued: false, weightsVersion: 'v2', content: undefined, cache: undefined, ...over,
  };
}

describe('span attributes', () => {
  it('the SERVER span carries GenAI names and keel facts; cost uses the answering attempt and cached input rate', () => {
    const a = requestAttributes(record(), 'openai');
    expect(a).toMatchObject({
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'chat', 'gen_ai.response.model': 'gpt-4o-mini-2024',
      'gen_ai.request.stream': true, 'gen_ai.response.time_to_first_chunk': 0.12, 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 200,
      'gen_ai.usage.cache_read.input_tokens': 400, 'gen_ai.response.finish_reasons': ['stop'], 'keel.attempts': 2, 'keel.retries': 1, 'keel.fallback_used': false,
      'keel.itl.mean_ms': 25, 'keel.itl.p50_ms': 30, 'keel.itl.max_ms': 40, 'keel.itl.count': 4, 'keel.key_id': 'app', 'keel.team': 'search', 'keel.weights_version': 'v2',
    });
    // 1000 input of which 400 cached (no cache price given → input price), 200 output.
    expect(a['keel.cost_usd']).toBeCloseTo((1000 * 0.15 + 200 * 0.6) / 1e6, 12);
    expect(a['error.type']).toBeUndefined();
    expect(a['gen_ai.input.messages']).toBeUndefined();
  });

  it('the SERVER span names the key by id with its team, customer and tags, never by the key', () => {
    const a = requestAttributes(record(), 'openai');
    expect(a).toMatchObject({ 'keel.key_id': 'app', 'keel.team': 'search', 'keel.customer': 'acme', 'keel.key.meta.env': 'prod' });
    const open = requestAttributes(record({ clientId: undefined, team: undefined, customer: undefined, keyMetadata: {} }), 'openai');
    expect(Object.keys(open).filter((k) => k.startsWith('keel.key') || k === 'keel.customer' || k === 'keel.team')).toEqual([]);
  });

  it('CLIENT spans: only the answering attempt carries usage and cost; a failure carries its class and the provider code', () => {
    const rec = record();
    const [failed, answered] = rec.attempts;
    if (failed === undefined || answered === undefined) throw new Error('attempts');
    const f = attemptAttributes(rec, failed, 0);
    expect(f).toMatchObject({ 'error.type': 'rate_limit_exceeded', 'keel.failure_class': 'provider_rate_limit', 'keel.error.class': 'provider_rate_limit', 'server.address': 'api.openai.com', 'server.port': 443 });
    expect(f['gen_ai.usage.output_tokens']).toBeUndefined();
    expect(f['keel.cost_usd']).toBeUndefined();
    const ok = attemptAttributes(rec, answered, 1);
    expect(ok).toMatchObject({ 'keel.attempt.index': 1, 'keel.attempt.reason': 'retry', 'gen_ai.usage.output_tokens': 200 });
    expect(f).toMatchObject({ 'keel.key_id': 'app', 'keel.team': 'search', 'keel.customer': 'acme' });
    expect(ok['keel.cost_usd']).toBeGreaterThan(0);
  });

  it('a truncated stream reports finish reason "error" and the request carries its own error class', () => {
    const a = requestAttributes(record({ finishReason: undefined, streamTruncated: true, errorCode: 'KEEL_STREAM_BROKEN', errorClass: 'provider_stream_broken', status: 200 }), 'openai');
    expect(a['gen_ai.response.finish_reasons']).toEqual(['error']);
    expect(a['keel.stream.truncated']).toBe(true);
    expect(a['keel.error.class']).toBe('provider_stream_broken');
  });

  it('ITL statistics and cost arithmetic', () => {
    expect(itlStats([])).toBeUndefined();
    expect(itlStats([5, 1, 3, 2, 4])).toEqual({ mean: 3, p50: 3, p95: 5, max: 5, count: 5 });
    expect(costUsd({ inputTokens: 1_000_000, outputTokens: 1_000_000, cacheReadTokens: 500_000 }, { input: 2, output: 8, cache_read: 0.5 })).toBeCloseTo(1 + 0.25 + 8, 9);
  });

  it('content appears only when captured, in the GenAI message shape', () => {
    const content = captureInput({
      model: 'chat', system: 'be brief', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: false, streamUsage: false,
      original: { format: 'openai-chat', body: {} },
    });
    content.output = outputOfText('hello', 'stop');
    const a = requestAttributes(record({ content }), 'openai');
    expect(JSON.parse(String(a['gen_ai.input.messages']))).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'hi' }] }]);
    expect(JSON.parse(String(a['gen_ai.system_instructions']))).toEqual([{ type: 'text', content: 'be brief' }]);
    expect(JSON.parse(String(a['gen_ai.output.messages']))).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'hello' }], finish_reason: 'stop' }]);
  });
});
