import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { countTokens } from '../../simulator/answer.js';
import { queryRows } from '../../store/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * Traffic through the gateway → OTLP → Keel's collector → otel_traces → llm_requests /
 * llm_attempts, checked against what the simulator was told to do.
 */
const PRICE = { input: 1, output: 2 };

describe('telemetry end to end', () => {
  let h: Harness;
  let c: RunningCollector;
  let t: Telemetry;
  let client: OpenAI;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-e2e-'));
    c = await startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 100_000, batch_rows: 1000, flush_ms: 20, spool_dir: join(dir, 'spool') },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } },
    });
    const health = new HealthRegistry();
    t = createTelemetry(telemetrySchema.parse({}), { collectorUrl: c.url, breakers: () => health.breakers(), spanFlushMs: 20, metricExportMs: 200, env: {} });
    h = await startHarness({
      behaviours: {
        'e2e-stream': { ttft_ms: 80, itl_ms: 20, tokens: 10 },
        'e2e-retry': { fault: 'server_error', times: 1 },
        'e2e-down': { fault: 'overloaded' },
      },
      gateway: { health, metrics: t.metricsHandler },
      observe: t.observer,
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'sk-e2e-provider-secret' } },
        routes: {
          's-stream': { targets: [{ provider: 'oai', model: 'e2e-stream' }] },
          's-unsampled': { targets: [{ provider: 'oai', model: 'e2e-unsampled' }] },
          's-retry': { targets: [{ provider: 'oai', model: 'e2e-retry' }], retries: { backoff_ms: 10, max_backoff_ms: 20 } },
          's-fallback': { targets: [{ provider: 'oai', model: 'e2e-down' }], fallbacks: [{ provider: 'oai', model: 'e2e-fb' }], retries: { attempts: 1, backoff_ms: 10, max_backoff_ms: 20 } },
        },
        prices: { 'e2e-stream': PRICE, 'e2e-retry': PRICE, 'e2e-fb': PRICE },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'sk-e2e-client-secret', maxRetries: 0 });
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await t.shutdown();
    await c.close();
  });

  const prompt = 'measure me';
  const messages = [{ role: 'user' as const, content: prompt }];
  const inputTokens = countTokens(prompt);

  /** Flushes the pipeline until the query returns `want` rows (spans are written just after each response). */
  async function rowsFor<T>(sql: string, want: number): Promise<T[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      await t.flush();
      await c.batcher.flush();
      const rows = await queryRows<T>(c.store.client, sql);
      if (rows.length >= want || Date.now() > deadline) return rows;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a stream: TTFT, ITL, tokens and cost in llm_requests match what the simulator did', async () => {
    const stream = await client.chat.completions.create({ model: 's-stream', messages, stream: true, stream_options: { include_usage: true } });
    for await (const _ of stream) {
      // consume
    }
    const [row] = await rowsFor<Record<string, number | string | boolean>>(
      "SELECT stream, ttft_ms, itl_mean_ms, itl_p95_ms, itl_count, input_tokens, output_tokens, cost_usd, attempts, fallback_used, response_model, provider_name, ok FROM llm_requests WHERE route = 's-stream'",
      1,
    );
    expect(row).toMatchObject({ stream: true, itl_count: 9, input_tokens: inputTokens, output_tokens: 10, attempts: 1, fallback_used: false, response_model: 'e2e-stream', provider_name: 'oai', ok: true });
    expect(row?.ttft_ms).toBeGreaterThanOrEqual(75);
    expect(row?.ttft_ms).toBeLessThan(400);
    expect(row?.itl_mean_ms).toBeGreaterThanOrEqual(15);
    expect(row?.itl_mean_ms).toBeLessThan(80);
    expect(row?.cost_usd).toBeCloseTo((inputTokens * PRICE.input + 10 * PRICE.output) / 1e6, 12);
  });

  it('a retry: two attempts, the failed one is not billed; the answering one carries tokens and cost', async () => {
    await client.chat.completions.create({ model: 's-retry', messages });
    const rows = await rowsFor<Record<string, number | string | boolean>>(
      "SELECT attempt_index, attempt_reason, ok, failure_class, error_class, output_tokens, cost_usd FROM llm_attempts WHERE route = 's-retry' ORDER BY attempt_index",
      2,
    );
    expect(rows).toEqual([
      { attempt_index: 0, attempt_reason: 'primary', ok: false, failure_class: 'provider_error', error_class: 'provider_error', output_tokens: 0, cost_usd: 0 },
      { attempt_index: 1, attempt_reason: 'retry', ok: true, failure_class: '', error_class: '', output_tokens: 12, cost_usd: expect.closeTo((inputTokens + 24) / 1e6, 12) as unknown },
    ]);
    const [req] = await rowsFor<Record<string, number>>("SELECT attempts, retries FROM llm_requests WHERE route = 's-retry'", 1);
    expect(req).toEqual({ attempts: 2, retries: 1 });
  });

  it('a fallback: attempts, fallback count and the answering model are recorded', async () => {
    const res = await client.chat.completions.create({ model: 's-fallback', messages });
    expect(res.model).toBe('e2e-fb');
    const [req] = await rowsFor<Record<string, unknown>>("SELECT attempts, fallbacks, fallback_used, response_model, ok FROM llm_requests WHERE route = 's-fallback'", 1);
    expect(req).toEqual({ attempts: 3, fallbacks: 1, fallback_used: true, response_model: 'e2e-fb', ok: true });
    const attempts = await rowsFor<Record<string, unknown>>("SELECT model, attempt_reason, failure_class FROM llm_attempts WHERE route = 's-fallback' ORDER BY attempt_index", 3);
    expect(attempts).toEqual([
      { model: 'e2e-down', attempt_reason: 'primary', failure_class: 'provider_unavailable' },
      { model: 'e2e-down', attempt_reason: 'retry', failure_class: 'provider_unavailable' },
      { model: 'e2e-fb', attempt_reason: 'fallback', failure_class: '' },
    ]);
  });

  it("honours the caller's traceparent: Keel's spans join its trace", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${parent}-01` },
      body: JSON.stringify({ model: 's-stream', messages }),
    });
    const spans = await rowsFor<{ SpanKind: string; ParentSpanId: string }>(`SELECT SpanKind, ParentSpanId FROM otel_traces WHERE TraceId = '${traceId}' ORDER BY SpanKind DESC`, 2);
    expect(spans.map((s) => s.SpanKind)).toEqual(['Server', 'Client']);
    expect(spans[0]?.ParentSpanId).toBe(parent);
  });

  it('a caller traceparent flagged not sampled still makes its row: no header takes a request out of the SLIs (DESIGN §3)', async () => {
    const traceId = '5bf92f3577b34da6a3ce929d0e0e4737';
    await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b8-00` },
      body: JSON.stringify({ model: 's-unsampled', messages }),
    });
    const reqs = await rowsFor<{ route: string }>(`SELECT route FROM llm_requests WHERE TraceId = '${traceId}'`, 1);
    expect(reqs).toEqual([{ route: 's-unsampled' }]);
    const spans = await rowsFor<{ SpanKind: string }>(`SELECT SpanKind FROM otel_traces WHERE TraceId = '${traceId}' ORDER BY SpanKind DESC`, 2);
    expect(spans.map((s) => s.SpanKind)).toEqual(['Server', 'Client']);
  });

  it('metrics reach the clickhouseexporter metrics tables over OTLP', async () => {
    const rows = await rowsFor<{ MetricName: string; n: number }>(
      "SELECT MetricName, count() AS n FROM otel_metrics_histogram WHERE MetricName IN ('gen_ai.client.operation.duration', 'gen_ai.client.token.usage') GROUP BY MetricName ORDER BY MetricName",
      2,
    );
    expect(rows.map((r) => r.MetricName)).toEqual(['gen_ai.client.operation.duration', 'gen_ai.client.token.usage']);
    const [sum] = await rowsFor<{ v: number }>("SELECT max(Value) AS v FROM otel_metrics_sum WHERE MetricName = 'keel.requests' AND Attributes['keel.route'] = 's-stream'", 1);
    expect(sum?.v).toBeGreaterThanOrEqual(1);
  });

  it('records no prompt, no completion and no key unless asked', async () => {
    const [leaks] = await rowsFor<{ secrets: number; content: number; spans: number }>(
      `SELECT countIf(arrayExists(v -> v LIKE '%secret%', arrayConcat(mapValues(SpanAttributes), mapValues(ResourceAttributes)))) AS secrets,
              countIf(mapContains(SpanAttributes, 'gen_ai.input.messages') OR mapContains(SpanAttributes, 'gen_ai.output.messages')) AS content,
              count() AS spans
       FROM otel_traces`,
      1,
    );
    expect(leaks?.spans).toBeGreaterThan(5);
    expect(leaks).toMatchObject({ secrets: 0, content: 0 });
  });

  it('/metrics shows the GenAI histograms and keel counters with the right values', async () => {
    const text = await (await fetch(`${h.url}/metrics`)).text();
    const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^keel_requests_total\{[^}]*keel_route="s-fallback"[^}]*\} (\d+)/m)).toBe(1);
    expect(value(/^keel_fallbacks_total\{keel_route="s-fallback"[^}]*\} (\d+)/m)).toBe(1);
    expect(value(/^keel_retries_total\{keel_route="s-retry"[^}]*\} (\d+)/m)).toBe(1);
    expect(value(/^gen_ai_client_operation_duration_count\{[^}]*gen_ai_request_model="e2e-down"[^}]*\} (\d+)/m)).toBe(2);
    expect(value(/^gen_ai_client_token_usage_count\{[^}]*gen_ai_request_model="e2e-stream"[^}]*gen_ai_token_type="output"[^}]*\} (\d+)/m)).toBe(2);
    expect(value(/^gen_ai_client_operation_time_per_output_chunk_count\{[^}]*gen_ai_request_model="e2e-stream"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(9);
    expect(text).toMatch(/^keel_breaker_state\{[^}]*\} 0$/m);
    expect(text).toMatch(/gen_ai_client_operation_duration_bucket\{[^}]*le="0\.01"/);
  });
});
