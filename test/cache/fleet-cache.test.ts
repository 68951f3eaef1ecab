import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * Issue 16's acceptance with real processes: two gateways sharing one Redis. An answer one
 * bought is a hit on the other, exact (same request) and semantic (a paraphrase, its vector
 * read from Redis into the other's index), streaming or not; and the provider saw one call.
 */
const KEY = 'keel-fleet-cache-key-0123456789ab';

describe('a cache shared by two gateways through Redis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fleet-cache-'));
  let redis: TestRedis;
  const procs: KeelProcess[] = [];
  let urls: string[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const sim = await startKeel(['simulator', '--port', '0'], dir);
    procs.push(sim);
    const path = join(dir, 'keel.yaml');
    writeFileSync(
      path,
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
        'routes:',
        '  chat: { targets: [{ provider: sim, model: m, price: { input: 1, output: 2 } }], cache: { ttl_s: 300, semantic: { embeddings_route: embed, dimensions: 256 } } }',
        '  embed: { targets: [{ provider: sim, model: e }] }',
        'auth:',
        `  keys: [{ id: app, key: "${KEY}", team: t }]`,
        'telemetry: { enabled: false }',
        `state: { redis: { url: "${redis.url}", deadline_ms: 250, key_prefix: "cache-${Date.now()}:" } }`,
        '',
      ].join('\n'),
    );
    const gateways = await Promise.all([0, 1].map(() => startKeel(['gateway', '--config', path, '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/)));
    procs.push(...gateways);
    urls = gateways.map((g) => g.match[1] ?? g.url);
  }, 60_000);

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    await redis.stop();
  });

  const client = (i: number) => new OpenAI({ baseURL: `${urls[i] ?? ''}/v1`, apiKey: KEY, maxRetries: 0 });
  const ask = (q: string) => [{ role: 'user' as const, content: q }];

  it('exact: bought on one, a hit on the other, streaming or not', async () => {
    const first = await client(0).chat.completions.create({ model: 'chat', messages: ask('what does a gateway do?') }).withResponse();
    expect(first.response.headers.get('x-keel-cache')).toBe('miss');
    const second = await client(1).chat.completions.create({ model: 'chat', messages: ask('what does a gateway do?') }).withResponse();
    expect(second.response.headers.get('x-keel-cache')).toBe('exact');
    expect(second.data.choices[0]?.message.content).toBe(first.data.choices[0]?.message.content);
    const streamed = await client(1).chat.completions.stream({ model: 'chat', messages: ask('what does a gateway do?') }).finalChatCompletion();
    expect(streamed.choices[0]?.message.content).toBe(first.data.choices[0]?.message.content);
  });

  it('semantic: a paraphrase on the other gateway hits the answer the first one stored', async () => {
    const first = await client(0).chat.completions.create({ model: 'chat', messages: ask('Which river runs through Paris?') });
    // The vector reaches Redis in the background just after the answer.
    await new Promise((r) => setTimeout(r, 300));
    const para = await client(1).chat.completions.create({ model: 'chat', messages: ask('which river runs through paris') }).withResponse();
    expect(para.response.headers.get('x-keel-cache')).toMatch(/^semantic;similarity=/);
    expect(para.data.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    const unrelated = await client(1).chat.completions.create({ model: 'chat', messages: ask('how do volcanoes form') }).withResponse();
    expect(unrelated.response.headers.get('x-keel-cache')).toBe('miss');
  });
});
