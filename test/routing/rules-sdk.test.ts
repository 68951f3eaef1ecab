import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestAttributes } from '../../gateway/telemetry/attributes.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * Routing rules end to end: the official clients through Keel to the simulator, whose
 * attempt log says which upstream model answered; the record and the span say which rules acted.
 */
const KEYS = [
  { id: 'batch-7', key: 'keel-key-batch-0123456789abcdef', team: 'data' },
  { id: 'web-1', key: 'keel-key-web-0123456789abcdef', team: 'web' },
];
const oai = (model: string, priority = 0) => ({ provider: 'oai', model, priority });
const pool = (name: string, rules: unknown[]) => ({ strategy: 'priority', targets: [oai(`${name}-main`), oai(`${name}-cheap`, 1)], rules });
const SLOW_MS = 200;

describe('routing rules through the gateway', () => {
  let h: Harness;
  const client = (key = KEYS[1]?.key ?? '') => new OpenAI({ baseURL: `${h.url}/v1`, apiKey: key, maxRetries: 0 });
  beforeAll(async () => {
    h = await startHarness({
      config: (url) => ({
        providers: {
          oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' },
          ant: { type: 'anthropic', base_url: url, api_key: 'k' },
        },
        auth: { keys: KEYS },
        routes: {
          tagged: pool('tag', [{ name: 'batch-to-cheap', when: { header: { 'x-keel-tag': 'batch' } }, then: { use: ['oai/tag-cheap'] } }]),
          meta: pool('meta', [{ name: 'free-tier', when: { metadata: { tier: { in: ['free', 'trial'] } } }, then: { use: ['oai/meta-cheap'] } }]),
          keyed: pool('key', [{ name: 'batch-keys', when: { key: 'batch-*', team: 'data' }, then: { skip: ['oai/key-main'] } }]),
          long: pool('long', [{ name: 'long-prompts', when: { input_tokens: { gt: 500 } }, then: { prefer: ['oai/long-cheap'] } }]),
          users: { targets: [{ provider: 'ant', model: 'user-main' }], fallbacks: [{ provider: 'ant', model: 'user-svc' }], rules: [{ name: 'service-users', when: { user: { regex: '^svc-' } }, then: { use: ['ant/user-svc'] } }] },
          errors: {
            ...pool('err', [{ name: 'main-failing', when: { target: { ref: 'oai/err-main', error_ratio_over: 0.5, min_samples: 5 } }, then: { skip: ['oai/err-main'] } }]),
            retries: { attempts: 0 },
            // The breaker stays out of it: the rule alone moves traffic off the failing target.
            breaker: { consecutive_failures: 1000, min_requests: 1000 },
          },
          latency: {
            ...pool('lat', [{ name: 'main-slow', when: { target: { ref: 'oai/lat-main', ttft_p95_ms_over: SLOW_MS / 2, min_samples: 5 } }, then: { prefer: ['oai/lat-cheap'] } }]),
            timeouts: { total_ms: 5000 },
          },
        },
      }),
    });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.records.length = 0;
  });

  const messages = [{ role: 'user' as const, content: 'route me' }];
  const answeredBy = (model: string) => h.sim.attemptsFor(model).length;
  const lastRecord = () => eventually(() => h.records.at(-1));

  it('a header rule sends `x-keel-tag: batch` to the cheap target; other requests keep the strategy', async () => {
    await client().chat.completions.create({ model: 'tagged', messages }, { headers: { 'x-keel-tag': 'batch' } });
    expect([answeredBy('tag-main'), answeredBy('tag-cheap')]).toEqual([0, 1]);
    const rec = await lastRecord();
    expect(rec.routeRules).toEqual([{ rule: 'batch-to-cheap', skipped: false }]);
    expect(requestAttributes(rec, undefined)['keel.route.rule']).toEqual(['batch-to-cheap']);
    h.records.length = 0;
    await client().chat.completions.create({ model: 'tagged', messages }, { headers: { 'x-keel-tag': 'interactive' } });
    expect([answeredBy('tag-main'), answeredBy('tag-cheap')]).toEqual([1, 1]);
    const plain = await lastRecord();
    expect(plain.routeRules).toBeUndefined();
    expect(requestAttributes(plain, undefined)['keel.route.rule']).toBeUndefined();
  });

  it('a metadata rule reads the body\'s metadata object', async () => {
    await client().chat.completions.create({ model: 'meta', messages, metadata: { tier: 'trial' } });
    await client().chat.completions.create({ model: 'meta', messages, metadata: { tier: 'enterprise' } });
    expect([answeredBy('meta-main'), answeredBy('meta-cheap')]).toEqual([1, 1]);
  });

  it('a key and team rule: only the batch key of team data skips the main target', async () => {
    await client(KEYS[0]?.key).chat.completions.create({ model: 'keyed', messages });
    expect((await lastRecord()).routeRules).toEqual([{ rule: 'batch-keys', skipped: false }]);
    await client(KEYS[1]?.key).chat.completions.create({ model: 'keyed', messages });
    expect([answeredBy('key-main'), answeredBy('key-cheap')]).toEqual([1, 1]);
  });

  it('an input_tokens rule prefers the cheap target for long prompts only', async () => {
    await client().chat.completions.create({ model: 'long', messages: [{ role: 'user', content: 'word '.repeat(600) }] });
    await client().chat.completions.create({ model: 'long', messages });
    expect([answeredBy('long-main'), answeredBy('long-cheap')]).toEqual([1, 1]);
  });

  it('a user rule matches an Anthropic caller\'s metadata.user_id (a fallback moved up by use)', async () => {
    const anthropic = new Anthropic({ baseURL: h.url, apiKey: KEYS[1]?.key ?? '', maxRetries: 0 });
    await anthropic.messages.create({ model: 'users', max_tokens: 16, messages, metadata: { user_id: 'svc-indexer' } });
    await anthropic.messages.create({ model: 'users', max_tokens: 16, messages, metadata: { user_id: 'alice' } });
    expect([answeredBy('user-main'), answeredBy('user-svc')]).toEqual([1, 1]);
  });

  it('an error-ratio rule: after five failed attempts on the main target it is skipped', async () => {
    h.sim.setBehaviour('err-main', { fault: 'server_error' });
    for (let i = 0; i < 5; i++) await client().chat.completions.create({ model: 'errors', messages });
    expect([answeredBy('err-main'), answeredBy('err-cheap')]).toEqual([5, 5]);
    expect(h.records.every((r) => r.routeRules === undefined)).toBe(true);
    await client().chat.completions.create({ model: 'errors', messages });
    expect([answeredBy('err-main'), answeredBy('err-cheap')]).toEqual([5, 6]);
    expect((await lastRecord()).routeRules).toEqual([{ rule: 'main-failing', skipped: false }]);
  });

  it('a latency rule: once the main target turns slow and has enough samples, the other is preferred', async () => {
    // Fast for the first 400 ms, then every answer takes SLOW_MS (the schedule starts now).
    h.sim.setBehaviour('lat-main', { latency_ms: SLOW_MS, schedule: [{ duration_ms: 400, behaviour: { latency_ms: 0 } }] });
    const started = Date.now();
    const send = (stream: boolean) =>
      stream
        ? client().chat.completions.create({ model: 'latency', messages, stream: true }).then(async (s) => {
            for await (const _ of s);
          })
        : client().chat.completions.create({ model: 'latency', messages });
    for (let i = 0; i < 3; i++) await send(i === 1);
    expect(answeredBy('lat-main')).toBe(3);
    await new Promise((r) => setTimeout(r, Math.max(0, 450 - (Date.now() - started))));
    // Two slow answers: five samples, p95 now SLOW_MS. Until then the rule cannot hold.
    for (let i = 0; i < 2; i++) await send(false);
    expect([answeredBy('lat-main'), answeredBy('lat-cheap')]).toEqual([5, 0]);
    expect(h.records.every((r) => r.routeRules === undefined)).toBe(true);
    await send(true);
    expect([answeredBy('lat-main'), answeredBy('lat-cheap')]).toEqual([5, 1]);
    const rec = await lastRecord();
    expect(rec.routeRules).toEqual([{ rule: 'main-slow', skipped: false }]);
    expect(requestAttributes(rec, undefined)['keel.route.rule']).toEqual(['main-slow']);
  });
});
