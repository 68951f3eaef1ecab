import { InMemorySpanExporter, BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordSpans } from '../../gateway/telemetry/spans.js';
import { PresetIds, requestTrace } from '../../gateway/telemetry/trace-ids.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * W3C traceparent on every upstream attempt, naming the attempt's own CLIENT span as the parent
 * (issue 17 §5), so a provider that traces joins the caller's trace; the spans Keel writes later
 * carry exactly those ids.
 */
const CALLER_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER = `00-${CALLER_TRACE}-00f067aa0ba902b7-01`;
const W3C = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

describe('traceparent upstream', () => {
  let h: Harness;
  let client: OpenAI;
  beforeAll(async () => {
    h = await startHarness({
      behaviours: { flaky: { fault: 'server_error', times: 1 } },
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: { r: { targets: [{ provider: 'oai', model: 'flaky' }], retries: { attempts: 1, backoff_ms: 0 } }, plain: { targets: [{ provider: 'oai', model: 'plain' }] } },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  it("each attempt sends the caller's trace with its own span as parent; the written spans carry those ids", async () => {
    await client.chat.completions.create({ model: 'r', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: CALLER, tracestate: 'vendor=1' } });
    const rec = await eventually(() => h.records.find((r) => r.route === 'r'));
    const sent = h.sim.attemptsFor('flaky').map((a) => W3C.exec(a.headers.traceparent ?? ''));
    expect(sent).toHaveLength(2);
    expect(sent.map((m) => m?.[1])).toEqual([CALLER_TRACE, CALLER_TRACE]);
    expect(sent.map((m) => m?.[3])).toEqual(['01', '01']);
    const parents = sent.map((m) => m?.[2]);
    expect(new Set(parents).size).toBe(2);
    expect(parents).toEqual(rec.attempts.map((a) => a.spanId));
    expect(h.sim.attemptsFor('flaky')[0]?.headers.tracestate).toBe('vendor=1');

    const exporter = new InMemorySpanExporter();
    const ids = new PresetIds();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], idGenerator: ids });
    recordSpans(provider.getTracer('t'), rec, ids);
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.parentSpanContext?.spanId === '00f067aa0ba902b7');
    expect(server?.spanContext().traceId).toBe(CALLER_TRACE);
    const clients = spans.filter((s) => s.parentSpanContext?.spanId === server?.spanContext().spanId);
    expect(clients.map((s) => s.spanContext().spanId)).toEqual(parents);
    expect(clients.map((s) => s.spanContext().traceId)).toEqual([CALLER_TRACE, CALLER_TRACE]);
  });

  it('without a caller trace, a new one: the same trace id upstream and on the spans', async () => {
    await client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: 'garbage' } });
    const rec = await eventually(() => h.records.find((r) => r.route === 'plain'));
    const m = W3C.exec(h.sim.attemptsFor('plain')[0]?.headers.traceparent ?? '');
    expect(m?.[1]).toBe(rec.trace?.traceId);
    expect(m?.[1]).not.toBe('0'.repeat(32));
    const exporter = new InMemorySpanExporter();
    const ids = new PresetIds();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)], idGenerator: ids });
    recordSpans(provider.getTracer('t'), rec, ids);
    const spans = exporter.getFinishedSpans();
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([rec.trace?.traceId]));
    expect(spans.find((s) => s.parentSpanContext === undefined)?.spanContext().spanId).toBe(rec.trace?.spanId);
  });

  it('requestTrace keeps a valid caller trace and replaces an invalid one', () => {
    expect(requestTrace(CALLER).traceId).toBe(CALLER_TRACE);
    expect(requestTrace(`00-${'0'.repeat(32)}-00f067aa0ba902b7-01`).traceId).not.toBe('0'.repeat(32));
    expect(requestTrace(`00-${CALLER_TRACE}-${'0'.repeat(16)}-01`).traceId).not.toBe(CALLER_TRACE);
    expect(requestTrace(`00-${CALLER_TRACE}-00f067aa0ba902b7-00`).flags).toBe('00');
  });
});
