import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { breakerStates, startKeel, type KeelProcess } from '../helpers/procs.js';
import { rawExchange } from './raw.js';
import { pausedReader } from '../helpers/readers.js';

/**
 * Every hostile input of issue 12 against the shape users run: `keel simulator`, `keel
 * collector` (embedded ClickHouse, the SLO engine beside it) and `keel gateway` as three real
 * processes on loopback. After each case the same four checks: every breaker closed, an honest
 * request answered in full (streamed and not, the same text), no bad event in the SLIs the SLO
 * engine reads (a caller's mischief or a provider fault a fallback absorbed is nobody's
 * outage), and both servers alive within their memory bounds.
 */
const CLIENT_KEY = 'fleet-client-key-0123456789abcdef';
const COLLECTOR_TOKEN = 'fleet-collector-token-0123456789abcdef';
/** The gateway at rest is ~100 MiB; embedded ClickHouse puts the collector at ~320 MiB before any request. */
const GATEWAY_RSS_MB = 350;
const COLLECTOR_RSS_MB = 800;

describe('hostile input against real processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-fleet-'));
  let sim: KeelProcess;
  let collector: KeelProcess;
  let gateway: KeelProcess;
  let oai: OpenAI;
  let honestSeq = 0;

  beforeAll(async () => {
    sim = await startKeel(['simulator', '--port', '0'], dir);
    const collectorPort = await freePort();
    const target = (model: string) => `{ provider: sim, model: "${model}" }`;
    // One failure of a misbehaving provider must not open anything here: the checks read every breaker.
    const lenient = 'breaker: { consecutive_failures: 100, min_requests: 1000 }';
    writeFileSync(
      join(dir, 'keel.yaml'),
      [
        'server: { headers_timeout_ms: 1000, request_timeout_ms: 1500, write_timeout_ms: 2000 }',
        `auth: { keys: [{ id: fleet, key: "${CLIENT_KEY}", team: hostile }] }`,
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", api_key: "sk-fleet-provider-key-0123456789" }`,
        'routes:',
        `  chat: { targets: [${target('honest;tokens=30')}] }`,
        // ~30 MB of stream: far more than loopback socket buffers hold, so a reader that stops blocks Keel's writes.
        `  big: { targets: [${target('big;tokens=200000')}], timeouts: { idle_ms: 1000 } }`,
        `  slow: { targets: [${target('slow;tokens=200;itl_ms=20')}] }`,
        `  stall: { targets: [${target('stall;fault=body_stall')}], fallbacks: [${target('rescue-a')}], timeouts: { idle_ms: 1000 }, ${lenient} }`,
        `  line: { targets: [${target('line;fault=huge_line;after_tokens=0;bytes=2097152')}], fallbacks: [${target('rescue-b')}], ${lenient} }`,
        'telemetry:',
        `  collector: { port: ${collectorPort}, flush_ms: 100, spool_dir: ${join(dir, 'spool')}, token: "${COLLECTOR_TOKEN}" }`,
        `  store: { path: ${join(dir, 'data')} }`,
        'slo: { port: 0 }',
        '',
      ].join('\n'),
    );
    collector = await startKeel(['collector'], dir, /listening on (http:\/\/\S+) \(OTLP/);
    gateway = await startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
    oai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
  }, 120_000);

  afterAll(async () => {
    for (const p of [gateway, collector, sim]) await p?.stop();
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers }, body });

  async function sql(query: string): Promise<string> {
    const res = await fetch(`${collector.url}/query`, { method: 'POST', headers: { authorization: `Bearer ${COLLECTOR_TOKEN}` }, body: query });
    expect(res.status, await res.clone().text()).toBe(200);
    // keel query's table: header, rule, value, row count.
    return (await res.text()).split('\n')[2]?.trim() ?? '';
  }

  /** The four checks every case ends with. */
  async function unharmed(): Promise<void> {
    const id = `honest-${++honestSeq}`;
    const whole = (await oai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'go' }] })).choices[0]?.message.content ?? '';
    expect(whole.split(' ')).toHaveLength(30);
    let streamed = '';
    // The last request carries the id waited for below.
    for await (const c of await oai.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'go' }] }, { headers: { 'x-request-id': id } })) streamed += c.choices[0]?.delta.content ?? '';
    expect(streamed).toBe(whole);
    for (let i = 0; i < 100 && (await sql(`SELECT count() FROM llm_requests WHERE request_id = '${id}'`)) !== '1'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await sql(`SELECT count() FROM llm_requests WHERE request_id = '${id}'`)).toBe('1');
    // The collector inserts groups as they fill, not strictly in arrival order: wait for every honest request's row.
    const stored = async () => Number(await sql('SELECT toUInt64(sum(requests)) FROM sli_1m'));
    for (let i = 0; i < 100 && (await stored()) < 2 * honestSeq; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await stored()).toBeGreaterThanOrEqual(2 * honestSeq);
    expect(await sql('SELECT toUInt64(sum(bad)) FROM sli_1m')).toBe('0');
    const states = await breakerStates(`${gateway.url}/metrics`);
    expect(Object.keys(states).length).toBeGreaterThan(0);
    expect(Object.entries(states).filter(([, state]) => state !== 0)).toEqual([]);
    expect(gateway.alive() && collector.alive()).toBe(true);
    expect(gateway.rssMb()).toBeLessThan(GATEWAY_RSS_MB);
    expect(collector.rssMb()).toBeLessThan(COLLECTOR_RSS_MB);
  }

  it('starts clean', async () => {
    await unharmed();
  });

  it('deep JSON ×3: 400 caller_too_deep before any routing', async () => {
    const deep = `{"model":"chat","messages":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    for (let i = 0; i < 3; i++) {
      const res = await post('/v1/chat/completions', deep);
      expect([res.status, res.headers.get('x-keel-error-class')]).toEqual([400, 'caller_too_deep']);
      await res.text();
    }
    await unharmed();
  });

  it('a 64 KiB header, invalid UTF-8 and a 5 MB model name: clear 4xx, small bodies', async () => {
    const { port } = new URL(gateway.url);
    const header = await rawExchange(gateway.url, { chunks: [`GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Junk: ${'x'.repeat(64 * 1024)}\r\n\r\n`] });
    expect(header.status).toBe(431);
    const utf8 = await post('/v1/chat/completions', Buffer.concat([Buffer.from('{"model":"chat","messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}]}')]));
    expect([utf8.status, utf8.headers.get('x-keel-error-code')]).toEqual([400, 'KEEL_INVALID_JSON']);
    const huge = await post('/v1/chat/completions', JSON.stringify({ model: 'm'.repeat(5 * 1024 * 1024), messages: [{ role: 'user', content: 'x' }] }));
    const text = await huge.text();
    expect(huge.status).toBe(404);
    expect(text.length).toBeLessThan(2048);
    await unharmed();
  });

  it('a slow body (the headers and one byte of a thousand): the socket is closed at request_timeout_ms', async () => {
    const { port } = new URL(gateway.url);
    const ex = await rawExchange(gateway.url, {
      chunks: [`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`],
      timeoutMs: 8000,
    });
    // request_timeout_ms is 1.5 s; Node checks its deadlines every 150 ms here. The bound leaves room for a loaded CI box,
    // and is still far from what the caller held before (Node's own default: 300 s).
    expect(ex.closedAfterMs).toBeLessThan(6000);
    await unharmed();
  });

  it('fifty callers that leave after the first token: caller_disconnected, upstreams aborted, no target charged', async () => {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await post('/v1/chat/completions', JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'go' }] }));
        const reader = res.body?.getReader();
        expect((await reader?.read())?.done).toBe(false);
        await reader?.cancel();
      }),
    );
    await unharmed();
    expect(await sql("SELECT countIf(error_class = 'caller_disconnected') FROM llm_requests WHERE route = 'slow'")).toBe('50');
  });

  it('five streaming callers that stop reading: cut after write_timeout_ms as caller_stalled, the target untouched', async () => {
    const readers = await Promise.all(Array.from({ length: 5 }, () => pausedReader(gateway.url, 'big', { authorization: `Bearer ${CLIENT_KEY}` })));
    for (let i = 0; i < 100 && (await sql("SELECT count() FROM llm_requests WHERE route = 'big'")) !== '5'; i++) await new Promise((r) => setTimeout(r, 200));
    for (const r of readers) r.destroy();
    expect(await sql("SELECT countIf(error_class = 'caller_stalled') FROM llm_requests WHERE route = 'big'")).toBe('5');
    await unharmed();
  });

  it('a provider that sends the headers and a third of the body, then stalls: the fallback answers in full', async () => {
    const res = await oai.chat.completions.create({ model: 'stall', messages: [{ role: 'user', content: 'go' }] });
    expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
    await unharmed();
    expect(await sql("SELECT arrayStringConcat(groupArray(error_class), ',') FROM (SELECT error_class FROM llm_attempts WHERE route = 'stall' ORDER BY attempt_index)")).toBe('provider_timeout,');
  });

  it('a 2 MB SSE line: provider_malformed, the fallback answers the stream', async () => {
    let text = '';
    for await (const c of await oai.chat.completions.create({ model: 'line', stream: true, messages: [{ role: 'user', content: 'go' }] })) text += c.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    await unharmed();
    expect(await sql("SELECT arrayStringConcat(groupArray(error_class), ',') FROM (SELECT error_class FROM llm_attempts WHERE route = 'line' ORDER BY attempt_index)")).toBe('provider_malformed,');
  });

  it('a gzip bomb and forged spans without the token: refused by the collector, nothing stored', async () => {
    const before = await sql('SELECT count() FROM otel_traces');
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024));
    const bombed = await fetch(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', authorization: `Bearer ${COLLECTOR_TOKEN}` }, body: bomb });
    expect(bombed.status).toBe(413);
    const forged = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0'.repeat(31) + '1', spanId: '0'.repeat(15) + '1', name: 'chat chat', kind: 2, startTimeUnixNano: String(Date.now() * 1e6), endTimeUnixNano: String(Date.now() * 1e6), attributes: [{ key: 'keel.request_id', value: { stringValue: 'forged' } }, { key: 'keel.route', value: { stringValue: 'chat' } }], status: { code: 2 } }] }] }] });
    for (const authorization of [undefined, 'Bearer not-the-token-0123456789abcdef']) {
      const res = await fetch(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) }, body: forged });
      expect(res.status).toBe(401);
    }
    expect(await sql("SELECT count() FROM llm_requests WHERE request_id = 'forged'")).toBe('0');
    expect(Number(await sql('SELECT count() FROM otel_traces'))).toBeGreaterThanOrEqual(Number(before));
    await unharmed();
  });


});
