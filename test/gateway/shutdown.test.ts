import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Drain, drainGateway } from '../../gateway/http/drain.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * What a shutdown cut records (test/cli/shutdown.test.ts drives the real process): the
 * request is the route's failure (gateway_shutdown, truncated), never the provider's: its
 * breaker, set to open on one failure, stays closed, and no provider is on the record.
 */
describe('a stream cut by shutdown', () => {
  let h: Harness;
  const drain = new Drain();
  const health = new HealthRegistry();
  beforeAll(async () => {
    h = await startHarness({
      behaviours: { 'long-up': { tokens: 600, itl_ms: 50 }, 'slow-up': { latency_ms: 5_000 } },
      config: (url) => {
        const cfg = baseConfig(url);
        const routes = cfg.routes as Record<string, unknown>;
        routes.long = { targets: [{ provider: 'oai', model: 'long-up' }], breaker: { consecutive_failures: 1 } };
        routes.slow = { targets: [{ provider: 'oai', model: 'slow-up' }], breaker: { consecutive_failures: 1 } };
        return cfg;
      },
      gateway: { drain, health },
    });
  });
  afterAll(async () => {
    await h.sim.close();
  });

  it('ends with gateway_shutdown on the route, in-band for the stream and 503 for a request still waiting; no breaker moves', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'long', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const waiting = client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'hi' }] }).catch((err: unknown) => err);
    const read = (async () => {
      for await (const chunk of stream) void chunk;
    })().then(() => undefined, (err: unknown) => err);
    // Both in the pipeline (the stream already sending), then the drain with a 200 ms grace.
    await expect.poll(() => drain.running).toBe(2);
    const drained = drainGateway(h.app, drain, 200);
    expect(await read).toBeInstanceOf(OpenAI.APIError);
    const refused = await waiting;
    if (!(refused instanceof OpenAI.APIError)) throw new Error(`expected an APIError, got ${String(refused)}`);
    expect(refused.status).toBe(503);
    const headers = refused.headers as Headers | undefined;
    expect(headers?.get('x-keel-error-class')).toBe('gateway_shutdown');
    expect((await drained).cut).toBe(2);
    const recs = await eventually(() => (h.records.length >= 2 ? h.records : undefined));
    const cut = recs.find((r) => r.route === 'long');
    expect(cut).toMatchObject({ errorClass: 'gateway_shutdown', errorCode: 'KEEL_SHUTTING_DOWN', streamTruncated: true, provider: undefined });
    expect(cut?.attempts[0]?.errorClass).toBe('gateway_shutdown');
    expect(recs.find((r) => r.route === 'slow')).toMatchObject({ errorClass: 'gateway_shutdown', status: 503, provider: undefined });
    // One charged failure would have opened either breaker (one per route and target).
    const states = health.breakers().filter((b) => b.route === 'long' || b.route === 'slow').map((b) => b.state);
    expect(states).toEqual(['closed', 'closed']);
  });
});
