import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

/**
 * A primary that is down for a minute, then healthy, over a compressed clock: the
 * simulator's schedule and Keel's breakers both read it, 20 simulated seconds per
 * real second, so the minute passes in three.
 */
const SPEED = 20;
const HEALTHY_MS = 10_000;
const OUTAGE_MS = 60_000;
const OPEN_S = 5;

describe('flapping primary', () => {
  let h: Harness;
  let client: OpenAI;
  const t0 = Date.now();
  const now = () => t0 + (Date.now() - t0) * SPEED;
  beforeAll(async () => {
    h = await startHarness({
      simulator: { now },
      gateway: { now },
      config: (url) => ({
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: {
          flap: {
            targets: [{ provider: 'oai', model: 'flappy' }],
            fallbacks: [{ provider: 'oai', model: 'steady' }],
            retries: { attempts: 1, backoff_ms: 5, max_backoff_ms: 10 },
            breaker: { consecutive_failures: 3, open_s: OPEN_S, window_s: 30, min_requests: 10, error_ratio: 0.5 },
          },
        },
      }),
    });
    client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
  });
  afterAll(() => h.close());

  it('is routed around during the outage with paced probes, and used again within seconds of recovery', async () => {
    // The schedule starts now, with the drive.
    h.sim.setBehaviour('flappy', { schedule: [{ duration_ms: HEALTHY_MS, behaviour: {} }, { duration_ms: OUTAGE_MS, behaviour: { fault: 'server_error' } }] });
    const start = now();
    const served: { at: number; model: string }[] = [];
    // One request per simulated second for 100 simulated seconds.
    while (now() - start < HEALTHY_MS + OUTAGE_MS + 30_000) {
      const at = now() - start;
      const res = await client.chat.completions.create({ model: 'flap', messages: [{ role: 'user', content: 'hi' }] });
      served.push({ at, model: res.model });
      await new Promise((r) => setTimeout(r, 1000 / SPEED));
    }
    const recovery = HEALTHY_MS + OUTAGE_MS;
    // Every request was answered; before the outage by the primary.
    expect(served.length).toBeGreaterThan(60);
    expect(served.filter((s) => s.at < HEALTHY_MS - 1000).every((s) => s.model === 'flappy')).toBe(true);
    // During the outage the fallback answered.
    const during = served.filter((s) => s.at > HEALTHY_MS + 1000 && s.at < recovery - 1000);
    expect(during.length).toBeGreaterThan(30);
    expect(during.every((s) => s.model === 'steady')).toBe(true);
    // The primary saw only paced probes once its breaker opened: about one per open_s, not one per request.
    const primaryDuring = h.sim.attemptsFor('flappy').filter((a) => a.at - start > HEALTHY_MS && a.at - start < recovery);
    expect(primaryDuring.length).toBeLessThanOrEqual(3 + 2 * Math.ceil(OUTAGE_MS / (OPEN_S * 1000)));
    const probes = primaryDuring.slice(3);
    for (let i = 1; i < probes.length; i++) {
      const gap = (probes[i]?.at ?? 0) - (probes[i - 1]?.at ?? 0);
      // A failed probe may be retried once at once; otherwise probes are open_s apart.
      if (gap > 500) expect(gap).toBeGreaterThanOrEqual(OPEN_S * 1000 * 0.9);
    }
    // Back on the primary within open_s of recovery, plus slack: on this clock 100 ms of a loaded
    // machine's scheduling delay is 2 simulated seconds.
    const soon = OPEN_S * 1000 + 10_000;
    const firstBack = served.find((s) => s.at >= recovery && s.model === 'flappy');
    expect(firstBack).toBeDefined();
    expect((firstBack?.at ?? Infinity) - recovery).toBeLessThan(soon);
    expect(served.filter((s) => s.at > recovery + soon).every((s) => s.model === 'flappy')).toBe(true);
  }, 20_000);
});
