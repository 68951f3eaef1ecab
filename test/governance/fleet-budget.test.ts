import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { keelBin, startKeel, type KeelProcess } from '../helpers/procs.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

/**
 * Issue 15 §2 with real processes: a budget that allows about 50 requests, 200 concurrent
 * requests (half streaming), spread over two gateways that share one Redis, then the same on one
 * gateway with in-process state. The spend the collector stored in ClickHouse never exceeds the
 * budget by more than one request's actual cost, and the answered count matches the budget
 * within that margin: the reservation (max cost) is taken atomically before each call.
 *
 * Prices make the arithmetic visible: output at $10,000 / M tokens ($0.01 a token), input at
 * $100 / M; every request asks max_tokens 8 and the simulator answers exactly 8 tokens, so one
 * answer costs 8 × $0.01 plus a few input tokens, and the budget is 50 of those.
 */
const KEY = 'keel-budget-test-key-0123456789';
const MAX_TOKENS = 8;
const PRICE = { input: 100, output: 10_000 };
const INPUT_TOKENS = 5; // "how much is q-000?": ceil(18 / 4) on the simulator's count
const ONE = (INPUT_TOKENS * PRICE.input + MAX_TOKENS * PRICE.output) / 1e6;

/** A budget of `requests` answers; `total` requests, `concurrency` in flight at once over all gateways. */
interface Case {
  replicas: number;
  requests: number;
  total: number;
  concurrency: number;
}

function config(dir: string, sim: string, collectorPort: number, redis: string | undefined, budget: number): string {
  const path = join(dir, 'keel.yaml');
  writeFileSync(
    path,
    [
      'providers:',
      `  sim: { type: openai-compatible, base_url: "${sim}/v1", auth: none }`,
      'routes:',
      `  chat: { targets: [{ provider: sim, model: m, price: { input: ${PRICE.input}, output: ${PRICE.output} } }] }`,
      'auth:',
      `  keys: [{ id: app, key: "${KEY}", team: t, budgets: [{ usd: ${budget}, period: day }] }]`,
      'telemetry:',
      `  collector: { port: ${collectorPort}, flush_ms: 100 }`,
      `  store: { path: ${join(dir, 'data')} }`,
      ...(redis === undefined ? [] : [`state: { redis: { url: "${redis}", deadline_ms: 250, key_prefix: "budget-${Date.now()}:" } }`]),
      '',
    ].join('\n'),
  );
  return path;
}

/** One request, streaming or not; true when answered. */
async function ask(client: OpenAI, i: number): Promise<boolean> {
  const messages = [{ role: 'user' as const, content: `how much is q-${String(i).padStart(3, '0')}?` }];
  try {
    if (i % 2 === 0) {
      await client.chat.completions.create({ model: 'chat', messages, max_tokens: MAX_TOKENS });
      return true;
    }
    const stream = await client.chat.completions.create({ model: 'chat', messages, max_tokens: MAX_TOKENS, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) void chunk;
    return true;
  } catch (err) {
    if (err instanceof OpenAI.RateLimitError && /budget/.test(err.message)) return false;
    throw err;
  }
}

function spend(configPath: string, dir: string): { usd: number; n: number } {
  const res = spawnSync(process.execPath, [keelBin, 'query', '--config', configPath, "SELECT round(sum(cost_usd), 9) AS usd, count() AS n FROM llm_requests WHERE route = 'chat' AND ok"], { cwd: dir, encoding: 'utf8' });
  // keel query prints a table: names, a rule, then the row.
  const [usd, n] = (res.stdout.split('\n')[2] ?? '').trim().split(/\s+/);
  return { usd: Number(usd), n: Number(n) };
}

async function spent(configPath: string, dir: string, answered: number): Promise<{ usd: number; n: number }> {
  let s = { usd: 0, n: 0 };
  for (let i = 0; i < 80 && s.n < answered; i++) {
    await new Promise((r) => setTimeout(r, 250));
    s = spend(configPath, dir);
  }
  return s;
}

describe.each([
  ['two gateways sharing Redis, 200 concurrent requests, a budget of 50', { replicas: 2, requests: 50, total: 200, concurrency: 200 }],
  ['one gateway, in-process state, 200 concurrent requests, a budget of 50', { replicas: 1, requests: 50, total: 200, concurrency: 200 }],
  // Far from the limit most admissions come from local leases (gateway/state/leases.ts): the
  // same bounds must hold as the budget runs out under them.
  ['two gateways sharing Redis, leases engaged: 500 requests 16 at a time, a budget of 400', { replicas: 2, requests: 400, total: 500, concurrency: 16 }],
] as const)('a budget under concurrent requests: %s', (_name, c: Case) => {
  const { replicas } = c;
  const BUDGET = c.requests * ONE;
  const dir = mkdtempSync(join(tmpdir(), 'keel-fleet-budget-'));
  let redis: TestRedis | undefined;
  const procs: KeelProcess[] = [];
  let gateways: KeelProcess[] = [];
  let configPath = '';

  beforeAll(async () => {
    if (replicas > 1) redis = await startRedis();
    const sim = await startKeel(['simulator', '--port', '0'], dir);
    procs.push(sim);
    configPath = config(dir, sim.url, await freePort(), redis?.url, BUDGET);
    procs.push(await startKeel(['collector', '--config', configPath, '--slo-port', '0'], dir, /listening on (http:\/\/\S+)/));
    gateways = await Promise.all(Array.from({ length: replicas }, () => startKeel(['gateway', '--config', configPath, '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/)));
    procs.push(...gateways);
  }, 120_000);

  afterAll(async () => {
    for (const p of procs.reverse()) await p.stop();
    await redis?.stop();
  });

  it('spends at most the budget plus one request, and answers what the budget allows', async () => {
    const clients = gateways.map((g) => new OpenAI({ baseURL: `${g.match[1] ?? g.url}/v1`, apiKey: KEY, maxRetries: 0 }));
    let next = 0;
    let answered = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < c.total; i = next++) if (await ask(clients[i % clients.length] as OpenAI, i)) answered++;
    };
    await Promise.all(Array.from({ length: c.concurrency }, worker));
    const s = await spent(configPath, dir, answered);
    process.stdout.write(`budget $${BUDGET.toFixed(4)} (${replicas} gateway(s)): ${answered} of ${c.total} answered, $${s.usd.toFixed(4)} spent in ClickHouse over ${s.n} rows\n`);
    expect(s.n).toBe(answered);
    expect(s.usd).toBeLessThanOrEqual(BUDGET + ONE + 1e-9);
    expect(Math.abs(answered - BUDGET / (s.usd / Math.max(1, answered)))).toBeLessThanOrEqual(1);
    expect(answered).toBeGreaterThanOrEqual(Math.floor(c.requests * 0.9));
    expect(answered).toBeLessThanOrEqual(c.requests + 1);
    if (c.concurrency < c.total && replicas > 1) {
      // The case is about leases: admissions must have come from them on every gateway, and a
      // good share of the fleet's (0 without them).
      let leased = 0;
      let all = 0;
      for (const g of gateways) {
        const text = await (await fetch(`${g.match[1] ?? g.url}/metrics`)).text();
        const count = (path: string) => Number(new RegExp(`keel_state_admissions_total\\{[^}]*path="${path}"[^}]*\\} (\\S+)`).exec(text)?.[1] ?? 0);
        process.stdout.write(`admissions on ${g.url}: ${count('lease')} from leases, ${count('shared')} shared\n`);
        expect(count('lease')).toBeGreaterThan(0);
        leased += count('lease');
        all += count('lease') + count('shared');
      }
      // The split between gateways depends on timing (a fresh CI run saw 152/98 and 16/234), and a
      // fifth of the requests are refusals and the last 64 before the limit are exact (both shared
      // by design): across the fleet leases must still carry a good share.
      expect(leased).toBeGreaterThan(0.15 * all);
    }
  }, 90_000);

  it('then every request is refused in the caller’s format, with the remaining amount and no retry', async () => {
    const res = await fetch(`${gateways[0]?.match[1] ?? ''}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', max_tokens: MAX_TOKENS, messages: [{ role: 'user', content: 'more?' }] }) });
    expect(res.status).toBe(429);
    expect(res.headers.get('x-keel-error-class')).toBe('caller_over_budget');
    expect(res.headers.get('x-should-retry')).toBe('false');
    // Less than this request may cost: 8 output tokens at $0.01 plus its estimated input.
    const left = Number(res.headers.get('x-keel-budget-remaining-usd'));
    expect(left).toBeGreaterThanOrEqual(0);
    expect(left).toBeLessThan(MAX_TOKENS * PRICE.output / 1e6 + 0.001);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.message).toMatch(/budget/);
  });
});
