import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { freePort } from '../helpers/ports.js';
import { keelBin, startKeel, type KeelProcess } from '../helpers/procs.js';

/**
 * A hostile caller against real `keel collector` processes (DESIGN.md §6): bodies and gzip
 * inflation are bounded, ingest and /query need the collector token, the SLO engine's API its own,
 * and a gateway with the tokens in its config gets its spans in and its weights polled.
 */
const COLLECTOR_TOKEN = randomBytes(24).toString('hex');
const SLO_TOKEN = randomBytes(24).toString('hex');
const env = { ...process.env, KEEL_COLLECTOR_TOKEN: COLLECTOR_TOKEN, KEEL_SLO_TOKEN: SLO_TOKEN };
/** The collector's default max_body_bytes. */
const CAP = 32 * 1024 * 1024;
/**
 * Most the collector's RSS may grow by over three bombs at once: each is stopped at the 32 MiB cap
 * (3 × 32 MiB, if no GC ran in between) plus slack. Inflating one bomb in full would add 1 GiB.
 * The baseline is measured first: embedded ClickHouse alone is ~300 MB here.
 */
const RSS_GROWTH_BOUND_MB = 160;

let seq = 0;
/** One OTLP/JSON traces request with a SERVER span the llm_requests view picks up. */
function spans(route: string): string {
  const id = (++seq).toString(16).padStart(16, '0');
  const now = BigInt(Date.now()) * 1_000_000n;
  const span = {
    traceId: id.padStart(32, 'e'),
    spanId: id,
    name: `chat ${route}`,
    kind: 2,
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 1_000_000n),
    attributes: [{ key: 'keel.request_id', value: { stringValue: `forged-${seq}` } }, { key: 'keel.route', value: { stringValue: route } }],
  };
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'keel' } }] }, scopeSpans: [{ spans: [span] }] }] });
}

/** 1 GiB of zeros, gzipped: about 1 MiB on the wire. Streamed, so the test itself never holds the GiB. */
async function gzipBomb(): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise((r) => gz.on('end', r));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 1024; i++) if (!gz.write(zeros)) await new Promise((r) => gz.once('drain', r));
  gz.end();
  await ended;
  return Buffer.concat(out);
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function postTraces(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/**
 * A raw POST of `size` bytes. Declared (content-length), it waits up to a second for an answer
 * before sending the body: the collector should refuse from the header alone. Chunked, it sends
 * everything at once, as an exporter does. Resolves with the status it was answered, if any.
 */
function postLarge(url: string, size: number, headers: Record<string, string>, chunked = false): Promise<{ status: number | undefined; body: string }> {
  return new Promise((resolve) => {
    const length: Record<string, string> = chunked ? {} : { 'content-length': String(size) };
    let answered = false;
    const req = request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...length, ...headers } }, (res) => {
      answered = true;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    // A server that answers and closes before it has read everything resets the connection.
    req.on('error', () => resolve({ status: undefined, body: '' }));
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size && !answered) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    if (chunked) pump();
    else {
      req.flushHeaders();
      setTimeout(pump, 1_000);
    }
  });
}

async function query(url: string, sql: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/query`, { method: 'POST', headers, body: sql });
}

/** llm_requests rows of a route, read through an authorised /query. */
async function stored(url: string, route: string): Promise<number> {
  const res = await query(url, `SELECT count() AS n FROM llm_requests WHERE route = '${route}'`, auth(COLLECTOR_TOKEN));
  expect(res.status).toBe(200);
  return Number(/^(\d+)\s*$/m.exec(await res.text())?.[1] ?? NaN);
}

async function eventually(read: () => Promise<number>, want: number): Promise<number> {
  let n = await read();
  for (let i = 0; i < 40 && n !== want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    n = await read();
  }
  return n;
}

describe('a collector with tokens, against hostile callers (real processes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hostile-'));
  let sim: Simulator;
  let collector: KeelProcess;
  let sloUrl: string;
  beforeAll(async () => {
    sim = await startSimulator();
    const [port, sloPort] = [await freePort(), await freePort()];
    sloUrl = `http://127.0.0.1:${sloPort}`;
    writeFileSync(
      join(dir, 'keel.yaml'),
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
        'routes:',
        '  chat: { adaptive: true, targets: [{ provider: sim, model: sim-model }] }',
        'telemetry:',
        `  collector: { port: ${port}, flush_ms: 50, token: "\${KEEL_COLLECTOR_TOKEN}" }`,
        'slo:',
        `  port: ${sloPort}`,
        '  token: "${KEEL_SLO_TOKEN}"',
        '',
      ].join('\n'),
    );
    collector = await startKeel(['collector'], dir, /listening on (http:\/\/\S+)/, env);
  }, 120_000);
  afterAll(async () => {
    await collector.stop();
    await sim.close();
  });

  it('a gzip bomb (1 GiB of zeros in ~1 MiB) gets 413 with an OTLP status; the collector stays up and small', async () => {
    const bomb = await gzipBomb();
    const before = collector.rssMb();
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const sends = Array.from({ length: 3 }, () => postTraces(collector.url, bomb, { ...auth(COLLECTOR_TOKEN), 'content-encoding': 'gzip' }));
    for (const res of await Promise.all(sends)) {
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({ code: 8, message: `the body inflates to more than ${CAP} bytes` });
    }
    expect(collector.alive()).toBe(true);
    expect(collector.rssMb() - before).toBeLessThan(RSS_GROWTH_BOUND_MB);
    expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
  }, 30_000);

  it('a body over max_body_bytes gets 413 with an OTLP status, and the collector answers the next export', async () => {
    const before = collector.rssMb();
    const declared = await postLarge(collector.url, CAP + 1024 * 1024, auth(COLLECTOR_TOKEN));
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body)).toEqual({ code: 8, message: 'the body is larger than the collector accepts (telemetry.collector.max_body_bytes)' });
    // Chunked, the collector reads up to the cap, answers 413 and closes: the sender, still
    // writing, sees the 413 or (TCP) a reset, never a 200.
    const streamed = await postLarge(collector.url, CAP + 1024 * 1024, auth(COLLECTOR_TOKEN), true);
    expect([413, undefined]).toContain(streamed.status);
    expect(collector.rssMb() - before).toBeLessThan(RSS_GROWTH_BOUND_MB);
    expect(collector.alive()).toBe(true);
    expect((await postTraces(collector.url, spans('after-big'), auth(COLLECTOR_TOKEN))).status).toBe(200);
    expect(await eventually(() => stored(collector.url, 'after-big'), 1)).toBe(1);
  }, 30_000);

  it('bodies received at once are bounded in sum (max_inflight_bytes): past it 429 + Retry-After, until they finish', async () => {
    // Eight exports declaring the largest body, sending none of it: the whole default budget (256 MiB), held.
    const held = Array.from({ length: 8 }, () => {
      const req = request(`${collector.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(CAP), ...auth(COLLECTOR_TOKEN) } });
      req.on('error', () => undefined);
      req.flushHeaders();
      return req;
    });
    await new Promise((r) => setTimeout(r, 300));
    const refused = await postTraces(collector.url, spans('inflight'), auth(COLLECTOR_TOKEN));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    // Counted where an operator looks (alerts/prometheus/keel-collector.rules.yml reads it).
    expect((await (await fetch(`${collector.url}/metrics`)).text()).match(/^keel_collector_refused_bodies_total 1$/m)).not.toBeNull();
    // An unauthenticated caller is turned away before the budget: 401, not 429.
    expect((await postTraces(collector.url, spans('inflight'))).status).toBe(401);
    held.forEach((req) => req.destroy());
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await postTraces(collector.url, spans('inflight'), auth(COLLECTOR_TOKEN))).status;
    }
    expect(status).toBe(200);
    expect(collector.alive()).toBe(true);
  });

  it('forged spans with no token or a wrong one get 401 and store nothing; with the token they are stored', async () => {
    for (const headers of [{}, auth(randomBytes(24).toString('hex')), auth(COLLECTOR_TOKEN.slice(0, -1)), { authorization: COLLECTOR_TOKEN }]) {
      const res = await postTraces(collector.url, spans('forged'), headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.text()).not.toContain(COLLECTOR_TOKEN);
    }
    const metrics = await fetch(`${collector.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(metrics.status).toBe(401);
    // Given the flush period to land, had anything been accepted.
    await new Promise((r) => setTimeout(r, 300));
    expect(await stored(collector.url, 'forged')).toBe(0);
    expect((await postTraces(collector.url, spans('forged'), auth(COLLECTOR_TOKEN))).status).toBe(200);
    expect(await eventually(() => stored(collector.url, 'forged'), 1)).toBe(1);
  });

  it('/query without the token, or with a wrong one, is 401; /healthz stays open', async () => {
    expect((await query(collector.url, 'SELECT 1', {})).status).toBe(401);
    expect((await query(collector.url, 'SELECT 1', auth(SLO_TOKEN))).status).toBe(401);
    expect((await fetch(`${collector.url}/healthz`)).status).toBe(200);
    // keel query (the CLI) sends the configured token.
    const cli = spawnSync(process.execPath, [keelBin, 'query', "SELECT count() AS n FROM llm_requests WHERE route = 'forged'"], { cwd: dir, encoding: 'utf8', env });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(/^1$/m);
  });

  it('the SLO engine: /api/status, /api/weights and the page need slo.token (Bearer, or Basic for browsers); /healthz is open', async () => {
    for (const path of ['/', '/api/status', '/api/weights']) {
      const res = await fetch(`${sloUrl}${path}`, { headers: auth(COLLECTOR_TOKEN) });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    }
    expect((await fetch(`${sloUrl}/api/status`)).status).toBe(401);
    expect((await fetch(`${sloUrl}/api/weights`, { headers: auth(SLO_TOKEN) })).status).toBe(200);
    const basic = `Basic ${Buffer.from(`anyone:${SLO_TOKEN}`).toString('base64')}`;
    expect((await fetch(`${sloUrl}/`, { headers: { authorization: basic } })).status).toBe(200);
    expect((await fetch(`${sloUrl}/healthz`)).status).toBe(200);
    // keel slo status sends the configured token.
    const cli = spawnSync(process.execPath, [keelBin, 'slo', 'status'], { cwd: dir, encoding: 'utf8', env });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/chat/);
  });

  it('a gateway with the tokens in its config gets its spans stored and polls the weights without a 401', async () => {
    const gateway = await startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/, env);
    try {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'k', maxRetries: 0 });
      for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] });
      expect(await eventually(() => stored(collector.url, 'chat'), 2)).toBe(2);
      expect(gateway.output()).not.toMatch(/cannot poll/);
      expect(gateway.output()).not.toContain(COLLECTOR_TOKEN);
      expect(gateway.output()).not.toContain(SLO_TOKEN);
    } finally {
      expect(await gateway.stop()).toBe(0);
    }
  }, 60_000);

  it('tokens never show in the collector output', () => {
    expect(collector.output()).not.toContain(COLLECTOR_TOKEN);
    expect(collector.output()).not.toContain(SLO_TOKEN);
  });
});

describe('a loopback collector with no token configured', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hostile-open-'));
  let collector: KeelProcess;
  beforeAll(async () => {
    collector = await startKeel(['collector', '--port', '0', '--slo-port', '0'], dir);
  }, 120_000);
  afterAll(() => collector.stop());

  it('ingest is open on loopback, but /query needs the per-process token, written 0600 beside the data folder', async () => {
    expect((await postTraces(collector.url, spans('open'))).status).toBe(200);
    expect((await query(collector.url, 'SELECT 1', {})).status).toBe(401);
    const file = join(dir, '.keel', 'query.token');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect((await query(collector.url, 'SELECT 1 AS one', auth(token))).status).toBe(200);
    const cli = spawnSync(process.execPath, [keelBin, 'query', 'SELECT 41 + 1 AS n'], { cwd: dir, encoding: 'utf8' });
    expect(cli.stdout).toMatch(/^42$/m);
  });

  it('the token file goes with the process; the next process has a new token', async () => {
    const file = join(dir, '.keel', 'query.token');
    const before = readFileSync(file, 'utf8');
    expect(await collector.stop()).toBe(0);
    expect(() => statSync(file)).toThrow();
    collector = await startKeel(['collector', '--port', '0', '--slo-port', '0'], dir);
    expect(readFileSync(file, 'utf8')).not.toBe(before);
    expect((await query(collector.url, 'SELECT 1', auth(before.trim()))).status).toBe(401);
  }, 60_000);
});

describe('listening beyond loopback without tokens is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hostile-cfg-'));

  it('keel check names both missing tokens, with the field path', () => {
    const file = join(dir, 'open.yaml');
    writeFileSync(file, ['providers: { p: { type: openai, api_key: x } }', 'routes: { chat: { targets: [{ provider: p, model: m }] } }', 'telemetry:', '  collector: { host: 0.0.0.0 }', ''].join('\n'));
    const res = spawnSync(process.execPath, [keelBin, 'check', file], { encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/telemetry\.collector\.token: is required: the collector listens beyond loopback \(host 0\.0\.0\.0\)/);
    expect(res.stderr).toMatch(/slo\.token: is required: the SLO engine listens beyond loopback/);
  });

  it('keel collector --host 0.0.0.0 with no token exits 1 before it listens', () => {
    const res = spawnSync(process.execPath, [keelBin, 'collector', '--host', '0.0.0.0', '--port', '0', '--slo-port', '0'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without telemetry\.collector\.token/);
    expect(res.stderr).not.toMatch(/listening on/);
  });
});
