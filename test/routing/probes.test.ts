import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProbeRecord } from '../../gateway/probes/index.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import type { AttemptRecord } from '../../simulator/index.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Active health checks against the simulator, on intervals of 100 ms (the floor is 50): a
 * fallback that dies while nobody uses it is known dead before a caller needs it, one that
 * comes back is closed again by a probe, and a target with traffic is left alone.
 */
const INTERVAL_S = 0.1;
const hc = (extra: Record<string, unknown> = {}) => ({ interval_s: INTERVAL_S, timeout_ms: 500, ...extra });
const fast = { timeouts: { connect_ms: 500, headers_ms: 500, ttft_ms: 500, idle_ms: 500, total_ms: 3000 }, retries: { attempts: 0 } };
const oai = (model: string, extra: Record<string, unknown> = {}) => ({ provider: 'oai', model, ...extra });

/** A probe's body (one user message, one token) as the simulator recorded it; a caller's never sets max_tokens 1 here. */
const isProbe = (a: AttemptRecord): boolean => (a.body as { max_tokens?: unknown } | undefined)?.max_tokens === 1;

describe('active health checks (gateway + simulator)', () => {
  let h: Harness;
  let health: HealthRegistry;
  let client: OpenAI;
  const probes: ProbeRecord[] = [];
  const stateOf = (route: string, model: string) => health.breakers().find((b) => b.route === route && b.model === model)?.state;

  beforeAll(async () => {
    health = new HealthRegistry();
    h = await startHarness({
      behaviours: { 'prim-down': { fault: 'server_error' } },
      gateway: { health, onProbe: (r) => probes.push(r) },
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k', health_check: hc() },
        },
        routes: {
          // The fallback dies while idle; the last one is never probed (no health_check).
          failover: { targets: [oai('prim-down')], fallbacks: [oai('fb-dies', { health_check: hc() }), oai('fb-last')], breaker: { open_s: 30 }, ...fast },
          comeback: { targets: [oai('back', { health_check: hc() })], breaker: { open_s: 0.2 }, ...fast },
          busy: { targets: [oai('busy', { health_check: hc({ interval_s: 0.3 }) })], ...fast },
          // A target's health_check overrides its provider's; the provider's applies to the rest.
          claude: { targets: [{ provider: 'ant', model: 'claude-probed' }, { provider: 'ant', model: 'claude-models', health_check: { method: 'models' } }], ...fast },
          own4xx: { targets: [oai('ctx', { health_check: hc() })], ...fast },
          silent: { targets: [oai('silent', { health_check: hc({ timeout_ms: 150 }) })], ...fast },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  it('marks a fallback that died while idle unhealthy before any caller needs it; the caller skips it', async () => {
    h.sim.setBehaviour('fb-dies', { fault: 'server_error' });
    await eventually(() => (stateOf('failover', 'fb-dies') === 'open' ? true : undefined), 3000);
    // 3 failures of the last 5 opened it: at least 3 probes, all of them failed.
    const dead = probes.filter((p) => p.model === 'fb-dies');
    expect(dead.length).toBeGreaterThanOrEqual(3);
    expect(dead.every((p) => p.outcome === 'failed' && p.errorClass === 'provider_error')).toBe(true);

    const res = await client.chat.completions.create({ model: 'failover', messages: [{ role: 'user', content: 'hello there' }] });
    expect(res.model).toBe('fb-last');
    // The dead fallback saw probes only, never the caller's request.
    expect(h.sim.attemptsFor('fb-dies').length).toBeGreaterThanOrEqual(3);
    expect(h.sim.attemptsFor('fb-dies').every(isProbe)).toBe(true);
    const rec = await eventually(() => h.records.find((r) => r.route === 'failover'));
    expect(rec.attempts.map((a) => a.model)).toEqual(['prim-down', 'fb-last']);
  });

  it('closes the breaker of a dead target again with a probe once it is back', async () => {
    h.sim.setBehaviour('back', { fault: 'overloaded' });
    await eventually(() => (stateOf('comeback', 'back') !== 'closed' ? true : undefined), 3000);
    h.sim.setBehaviour('back', {});
    const at = probes.length;
    await eventually(() => (stateOf('comeback', 'back') === 'closed' ? true : undefined), 3000);
    expect(probes.slice(at).some((p) => p.model === 'back' && p.outcome === 'ok')).toBe(true);
    // No caller asked: probes alone brought it back.
    expect(h.records.some((r) => r.route === 'comeback')).toBe(false);
  });

  it('leaves a target with traffic alone (only_when_idle)', async () => {
    const before = h.sim.attemptsFor('busy').filter(isProbe).length;
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      await client.chat.completions.create({ model: 'busy', messages: [{ role: 'user', content: 'keep busy' }] });
      await new Promise((r) => setTimeout(r, 50));
    }
    // Three intervals with traffic: no probe (at most one that was due before the first request).
    expect(h.sim.attemptsFor('busy').filter(isProbe).length - before).toBeLessThanOrEqual(1);
    const start = h.sim.attemptsFor('busy').filter(isProbe).length;
    // Idle again: probed within two intervals.
    await eventually(() => (h.sim.attemptsFor('busy').filter(isProbe).length > start ? true : undefined), 2000);
  });

  it('sends one token: a one-message, max_tokens 1 body in the target format (Anthropic here)', async () => {
    const seen = await eventually(() => h.sim.attemptsFor('claude-probed')[0]);
    expect(seen.path).toBe('/v1/messages');
    expect(seen.body).toEqual({ model: 'claude-probed', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text', text: 'ping' }] }] });
    const rec = await eventually(() => probes.find((p) => p.model === 'claude-probed'));
    expect(rec).toMatchObject({ provider: 'ant', providerName: 'anthropic', method: 'chat', outcome: 'ok', errorClass: undefined });
  });

  it('method models: lists models (a GET, no tokens), with the provider interval', async () => {
    const rec = await eventually(() => probes.find((p) => p.model === 'claude-models'), 3000);
    expect(rec).toMatchObject({ method: 'models', outcome: 'ok' });
    expect(h.sim.attemptsFor('claude-models')).toHaveLength(0);
  });

  it('a target that never answers fails its probes at timeout_ms (provider_timeout)', async () => {
    h.sim.setBehaviour('silent', { fault: 'hang' });
    const at = probes.length;
    const rec = await eventually(() => probes.slice(at).find((p) => p.model === 'silent' && p.outcome === 'failed'), 3000);
    expect(rec.errorClass).toBe('provider_timeout');
    expect(rec.durationMs).toBeGreaterThanOrEqual(140);
    expect(rec.durationMs).toBeLessThan(1000);
  });

  it('a 4xx about the probe itself is inconclusive: it never opens the breaker', async () => {
    h.sim.setBehaviour('ctx', { fault: 'context_length' });
    // From the first probe that met the fault (one under way when it was set may still have passed).
    await eventually(() => probes.find((p) => p.model === 'ctx' && p.outcome === 'inconclusive'), 3000);
    const at = probes.length;
    const since = () => probes.slice(at).filter((p) => p.model === 'ctx');
    await eventually(() => (since().length >= 5 ? true : undefined), 3000);
    expect(since().every((p) => p.outcome === 'inconclusive' && p.errorClass === 'caller_context_length')).toBe(true);
    expect(stateOf('own4xx', 'ctx')).toBe('closed');
  });
});
