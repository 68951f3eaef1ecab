import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import type { CompletedRequest } from '../../gateway/pipeline/record.js';
import { requestCost } from '../../gateway/telemetry/attributes.js';
import { LocalMetrics } from '../../gateway/telemetry/local-metrics.js';
import { BudgetGauge, createMetrics } from '../../gateway/telemetry/metrics.js';

function record(over: Partial<CompletedRequest> = {}): CompletedRequest {
  return {
    requestId: 'r1', operation: 'chat', startedAtMs: 1_700_000_000_000, traceparent: undefined, tracestate: undefined, ingressFormat: 'openai-chat', route: 'chat',
    provider: 'oai', providerType: 'openai', requestModel: 'chat', responseModel: 'gpt-4o-mini', stream: false, clientId: 'app', team: 'search', customer: 'acme', keyMetadata: {}, guardrails: [], configVersion: 1,
    status: 200, errorCode: undefined, errorClass: undefined, upstreamCode: undefined, durationMs: 100, ttftMs: undefined, interTokenMs: [], usage: { inputTokens: 1000, outputTokens: 500 },
    finishReason: 'stop', malformedChunks: 0, streamTruncated: false, endSynthesized: false,
    attempts: [{ provider: 'oai', genAiProvider: 'openai', providerType: 'openai', model: 'gpt-4o-mini', reason: 'primary', startMs: 1, durationMs: 99, ttftMs: undefined, ok: true, errorCode: undefined, upstreamCode: undefined, errorClass: undefined, serverAddress: 'api.openai.com', serverPort: 443, price: { input: 0.15, output: 0.6 } }],
    fallbacks: 0, retries: 0, hedged: false, continued: false, weightsVersion: 'v0', content: undefined, cache: undefined, ...over,
  };
}

async function scrape(budgets: BudgetGauge, records: CompletedRequest[]): Promise<string> {
  const local = new LocalMetrics(resourceFromAttributes({}));
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: [local] });
  const provider = new MeterProvider({ readers: [prometheus] });
  const metrics = createMetrics(provider.getMeter('keel'), local, () => [], undefined, budgets);
  for (const r of records) metrics.record(r);
  const { resourceMetrics } = await prometheus.collect();
  await provider.shutdown();
  return new PrometheusSerializer().serialize(resourceMetrics);
}

describe('spend and budget metrics', () => {
  it('keel_spend_usd_total per key, team and customer, from the same cost as the span; the key itself never appears', async () => {
    const a = record();
    const b = record({ clientId: 'batch', team: 'search', customer: 'globex' });
    const failed = record({ usage: undefined, status: 502, attempts: [] });
    const text = await scrape(new BudgetGauge(), [a, a, b, failed]);
    const value = (labels: string) => Number(new RegExp(`^keel_spend_usd_total\\{${labels}[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('key="app",team="search",customer="acme"')).toBeCloseTo(2 * (requestCost(a) ?? 0), 12);
    expect(value('key="batch",team="search",customer="globex"')).toBeCloseTo(requestCost(b) ?? 0, 12);
    // Nothing answered, nothing spent: no series for the failure.
    expect(text.match(/^keel_spend_usd_total\{/gm)).toHaveLength(2);
  });

  it('keel_budget_remaining_usd renders what the budget stage last set, per scope, name and period; a deleted budget leaves', async () => {
    const budgets = new BudgetGauge();
    budgets.set('team', 'search', 'month', 120.5);
    budgets.set('key', 'app', 'day', 3);
    budgets.set('key', 'app', 'day', 2.25);
    budgets.set('customer', 'acme', 'month', 0);
    budgets.set('customer', 'gone', 'day', 1);
    budgets.delete('customer', 'gone', 'day');
    const text = await scrape(budgets, []);
    expect(text).toMatch(/^# TYPE keel_budget_remaining_usd gauge$/m);
    expect(text).toMatch(/^keel_budget_remaining_usd\{scope="team",name="search",period="month"[^}]*\} 120\.5$/m);
    expect(text).toMatch(/^keel_budget_remaining_usd\{scope="key",name="app",period="day"[^}]*\} 2\.25$/m);
    expect(text).toMatch(/^keel_budget_remaining_usd\{scope="customer",name="acme",period="month"[^}]*\} 0$/m);
    expect(text).not.toContain('name="gone"');
  });
});
