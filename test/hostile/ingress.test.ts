import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGateway } from '../../gateway/index.js';
import { InFlight } from '../../gateway/http/inflight.js';
import { adminUrl } from '../../gateway/http/metrics.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { baseConfig, eventually, parseConfig, startHarness, type Harness } from '../helpers/harness.js';
import { keelBin, startKeel } from '../helpers/procs.js';
import { rawExchange, requestHead } from './raw.js';

const KEY = 'keel-hostile-key-0123456789abcdef';
const auth = { authorization: `Bearer ${KEY}` };
const keys = { keys: [{ id: 'app', key: KEY }] };
const hello = [{ role: 'user', content: 'hi' }];

function post(url: string, path: string, body: unknown, headers: Record<string, string> = auth): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** The status, with the body read: an unread body keeps the client's connection busy and the server's close waiting. */
async function statusOf(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.text();
  return r.status;
}

interface OpenAIError {
  error: { message: string; type: string; code: string | null };
}
interface AnthropicError {
  type: string;
  error: { type: string; message: string };
}

describe('incoming bounds', () => {
  let h: Harness;
  const health = new HealthRegistry();
  const inflight = new InFlight();
  beforeAll(async () => {
    h = await startHarness({
      gateway: { health, inflight },
      config: (url) => ({
        ...baseConfig(url),
        auth: keys,
        server: { headers_timeout_ms: 300, request_timeout_ms: 500, keep_alive_timeout_ms: 300 },
        routes: {
          'gpt-sim': { targets: [{ provider: 'oai', model: 'gpt-up' }], breaker: { consecutive_failures: 1 } },
          'claude-sim': { targets: [{ provider: 'ant', model: 'claude-up' }], breaker: { consecutive_failures: 1 } },
          long: { targets: [{ provider: 'oai', model: 'long;ttft_ms=50;itl_ms=60;tokens=15;latency_ms=900' }] },
        },
      }),
    });
  });
  afterAll(() => h.close());

  it('a body that stops after 1 of 1,000 bytes loses its socket at request_timeout_ms, with a 408 in the caller format', async () => {
    const head = requestHead('POST', '/v1/chat/completions', { ...auth, 'content-type': 'application/json', 'content-length': 1000 });
    const res = await rawExchange(h.url, { chunks: [head, '{'], timeoutMs: 3000 });
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(450);
    expect(res.closedAfterMs).toBeLessThan(1500);
    expect(res.status).toBe(408);
    expect(res.headers['x-keel-error-code']).toBe('KEEL_REQUEST_TIMEOUT');
    expect(res.headers['x-keel-error-class']).toBe('caller_stalled');
    expect((JSON.parse(res.body) as OpenAIError).error.message).toMatch(/server\.request_timeout_ms/);

    const ant = await rawExchange(h.url, { chunks: [requestHead('POST', '/v1/messages', { ...auth, 'content-length': 1000 }), '{'], timeoutMs: 3000 });
    expect(ant.status).toBe(408);
    expect((JSON.parse(ant.body) as AnthropicError).type).toBe('error');
  });

  it('the deadline is on receiving the request: answers and streams longer than request_timeout_ms complete', async () => {
    const started = Date.now();
    const res = await post(h.url, '/v1/chat/completions', { model: 'long', messages: hello });
    expect(res.status).toBe(200);
    await res.text();
    const stream = await post(h.url, '/v1/chat/completions', { model: 'long', stream: true, messages: hello });
    const text = await stream.text();
    expect(Date.now() - started).toBeGreaterThan(1000);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('headers that never finish lose the socket at headers_timeout_ms', async () => {
    const res = await rawExchange(h.url, { chunks: ['POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n'], timeoutMs: 3000 });
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(250);
    expect(res.closedAfterMs).toBeLessThan(1200);
    expect(res.status).toBe(408);
  });

  it('an idle keep-alive socket is closed after keep_alive_timeout_ms', async () => {
    const res = await rawExchange(h.url, { chunks: [requestHead('GET', '/healthz', { connection: 'keep-alive' })], timeoutMs: 3000 });
    expect(res.status).toBe(200);
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(250);
    // Node arms the idle timer when the answer is finished, plus its own slack; never the 72 s default.
    expect(res.closedAfterMs).toBeLessThan(2500);
  });

  it('a 64 KiB header gets 431 in the caller format, and the gateway keeps answering', async () => {
    const big = 'x'.repeat(64 * 1024);
    const res = await rawExchange(h.url, { chunks: [requestHead('POST', '/v1/messages', { ...auth, 'x-padding': big, 'content-length': 2 }), '{}'], timeoutMs: 3000 });
    expect(res.status).toBe(431);
    expect(res.headers['x-keel-error-code']).toBe('KEEL_HEADERS_TOO_LARGE');
    const body = JSON.parse(res.body) as AnthropicError;
    expect(body.error.type).toBe('request_too_large');
    expect(body.error.message).toMatch(/server\.max_header_bytes/);
    expect(await statusOf(fetch(`${h.url}/healthz`))).toBe(200);
  });

  it('invalid UTF-8 in a JSON body → 400 in the caller format', async () => {
    const bytes = Buffer.concat([Buffer.from('{"model":"gpt-sim","max_tokens":5,"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}]}')]);
    const oai = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: bytes });
    expect(oai.status).toBe(400);
    expect(oai.headers.get('x-keel-error-code')).toBe('KEEL_INVALID_JSON');
    expect(((await oai.json()) as OpenAIError).error.message).toMatch(/UTF-8/);
    const ant = await fetch(`${h.url}/v1/messages`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: bytes });
    expect(ant.status).toBe(400);
    expect(((await ant.json()) as AnthropicError).error.type).toBe('invalid_request_error');
  });

  it('a 5 MB model name → 404 with a small body that does not echo it', async () => {
    const name = `ghost-${'m'.repeat(5 * 1024 * 1024)}`;
    const res = await post(h.url, '/v1/chat/completions', { model: name, messages: hello });
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text.length).toBeLessThan(2048);
    expect(text).not.toContain(name);
    expect(text).toContain('ghost-mmm');
    expect(text).toContain('…');
  });

  it('JSON nested 100,000 deep, three times → 400 KEEL_JSON_TOO_DEEP, breakers stay closed, honest requests still succeed', async () => {
    const deep = `{"model":"gpt-sim","messages":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    for (let i = 0; i < 3; i++) {
      const res = await post(h.url, i === 1 ? '/v1/messages' : '/v1/chat/completions', deep);
      expect(res.status).toBe(400);
      expect(res.headers.get('x-keel-error-code')).toBe('KEEL_JSON_TOO_DEEP');
      expect(res.headers.get('x-keel-error-class')).toBe('caller_too_deep');
    }
    const ok = await post(h.url, '/v1/chat/completions', { model: 'gpt-sim', messages: hello });
    expect(ok.status).toBe(200);
    // consecutive_failures: 1 would have opened the breaker on one counted failure.
    const states = health.breakers();
    expect(states.find((b) => b.model === 'gpt-up')?.state).toBe('closed');
    expect(states.every((b) => b.state === 'closed')).toBe(true);
  });

  it('no in-flight slot leaks after timeouts, refusals and errors', async () => {
    await eventually(() => (inflight.inFlight === 0 ? true : undefined));
  });
});

describe('authentication before the body', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: (url) => ({ ...baseConfig(url), auth: keys }) });
  });
  afterAll(() => h.close());

  it('a caller without a key and a 10 MB body gets 401 before the body is sent, and the socket closes', async () => {
    const head = requestHead('POST', '/v1/chat/completions', { 'content-type': 'application/json', 'content-length': 10 * 1024 * 1024 });
    // 64 KiB of the 10 MB, then nothing: an answer can only come from a gateway that did not wait for the body.
    const res = await rawExchange(h.url, { chunks: [head, Buffer.alloc(64 * 1024, 0x20)], timeoutMs: 5000 });
    expect(res.status).toBe(401);
    expect(res.headers['x-keel-error-code']).toBe('KEEL_UNAUTHENTICATED');
    expect(res.headers.connection).toBe('close');
    expect(res.sentBeforeAnswer).toBeLessThanOrEqual(64 * 1024 + head.length);
    expect(res.closedAfterMs).toBeLessThan(2000);
  });

  it('a wrong key is refused the same way, in the Anthropic format on /v1/messages', async () => {
    const head = requestHead('POST', '/v1/messages', { 'x-api-key': 'not-the-key-0123456789abcdef', 'content-length': 10 * 1024 * 1024 });
    const res = await rawExchange(h.url, { chunks: [head, 'x'], timeoutMs: 5000 });
    expect(res.status).toBe(401);
    expect((JSON.parse(res.body) as AnthropicError).error.type).toBe('authentication_error');
    expect(res.body).not.toContain('not-the-key');
  });

  it('/v1/models and unknown paths need the key; /healthz and /readyz do not', async () => {
    expect(await statusOf(fetch(`${h.url}/v1/models`))).toBe(401);
    expect(await statusOf(fetch(`${h.url}/v1/models`, { headers: auth }))).toBe(200);
    expect(await statusOf(fetch(`${h.url}/v1/nope`))).toBe(401);
    expect(await statusOf(fetch(`${h.url}/healthz`))).toBe(200);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).not.toHaveProperty('warning');
  });
});

const fakeMetrics = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'text/plain' }).end('keel_up 1\n');
};

describe('/metrics access', () => {
  const ADMIN = 'admin-token-0123456789abcdef';

  it('with server.admin_token: only `Authorization: Bearer <admin_token>` gets the metrics', async () => {
    const h = await startHarness({ gateway: { metrics: fakeMetrics }, config: (url) => ({ ...baseConfig(url), auth: keys, server: { admin_token: ADMIN } }) });
    try {
      const none = await fetch(`${h.url}/metrics`);
      expect(none.status).toBe(401);
      expect(((await none.json()) as OpenAIError).error.message).toMatch(/server\.admin_token/);
      expect(await statusOf(fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } }))).toBe(401);
      const ok = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('keel_up 1');
    } finally {
      await h.close();
    }
  });

  it('with server.admin_port: /metrics on its own loopback listener without a token, and not on the main port', async () => {
    const h = await startHarness({ gateway: { metrics: fakeMetrics }, config: (url) => ({ ...baseConfig(url), server: { admin_port: 0, admin_token: ADMIN } }) });
    try {
      const main = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
      expect(main.status).toBe(404);
      const admin = adminUrl(h.app);
      expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${admin ?? ''}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('keel_up 1');
      expect(await statusOf(fetch(`${admin ?? ''}/v1/models`))).toBe(404);
    } finally {
      await h.close();
    }
    // Closed with the gateway.
    expect(adminUrl(h.app)).toBeUndefined();
  });

  it('with neither: served on a loopback gateway, 403 naming both settings on a non-loopback one (and /readyz warns when open)', async () => {
    const loop = await startHarness({ gateway: { metrics: fakeMetrics } });
    try {
      expect(await statusOf(fetch(`${loop.url}/metrics`))).toBe(200);
    } finally {
      await loop.close();
    }
    // The one gateway in these tests on a non-loopback address; its provider points nowhere.
    const config = parseConfig({ ...baseConfig('http://127.0.0.1:9'), server: { host: '0.0.0.0', allow_unauthenticated: true } });
    const app = buildGateway({ config: { current: { config, version: 1 } }, metrics: fakeMetrics });
    await app.listen({ host: '0.0.0.0', port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(403);
      expect(res.headers.get('x-keel-error-code')).toBe('KEEL_FORBIDDEN');
      const message = ((await res.json()) as OpenAIError).error.message;
      expect(message).toMatch(/server\.admin_token/);
      expect(message).toMatch(/server\.admin_port/);
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { warning?: string };
      expect(ready.warning).toMatch(/auth\.keys/);
    } finally {
      await app.close();
    }
  });
});

describe('load shedding (max_in_flight)', () => {
  it('past a route cap: 503 KEEL_OVERLOADED + Retry-After in both formats; the slot comes back when the answer (or stream) ends', async () => {
    const inflight = new InFlight();
    const h = await startHarness({
      gateway: { inflight },
      config: (url) => ({
        ...baseConfig(url),
        routes: {
          capped: { max_in_flight: 1, targets: [{ provider: 'oai', model: 'slow;latency_ms=600' }] },
          streamy: { max_in_flight: 1, targets: [{ provider: 'oai', model: 'slows;ttft_ms=50;itl_ms=40;tokens=12' }] },
          free: { targets: [{ provider: 'oai', model: 'gpt-up' }] },
        },
      }),
    });
    try {
      const first = post(h.url, '/v1/chat/completions', { model: 'capped', messages: hello });
      await eventually(() => (inflight.routeInFlight('capped') === 1 ? true : undefined));
      const shed = await post(h.url, '/v1/chat/completions', { model: 'capped', messages: hello });
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('1');
      expect(shed.headers.get('x-keel-error-code')).toBe('KEEL_OVERLOADED');
      expect(shed.headers.get('x-keel-error-class')).toBe('gateway_overloaded');
      expect(((await shed.json()) as OpenAIError).error.message).toMatch(/routes\.capped\.max_in_flight/);
      const shedAnt = await post(h.url, '/v1/messages', { model: 'capped', max_tokens: 5, messages: hello });
      expect(shedAnt.status).toBe(503);
      expect(shedAnt.headers.get('retry-after')).toBe('1');
      expect(((await shedAnt.json()) as AnthropicError).error.type).toBe('overloaded_error');
      // Another route is not affected; the shed requests were recorded on their route.
      expect(await statusOf(post(h.url, '/v1/chat/completions', { model: 'free', messages: hello }))).toBe(200);
      expect(h.records.filter((r) => r.route === 'capped' && r.errorClass === 'gateway_overloaded')).toHaveLength(2);
      const answered = await first;
      expect(answered.status).toBe(200);
      await answered.text();
      await eventually(() => (inflight.routeInFlight('capped') === 0 ? true : undefined));
      expect(await statusOf(post(h.url, '/v1/chat/completions', { model: 'capped', messages: hello }))).toBe(200);

      // A stream holds its slot until its last byte, long after the handler returned.
      const stream = await post(h.url, '/v1/chat/completions', { model: 'streamy', stream: true, messages: hello });
      expect(stream.status).toBe(200);
      expect(await statusOf(post(h.url, '/v1/chat/completions', { model: 'streamy', messages: hello }))).toBe(503);
      expect(await stream.text()).toContain('[DONE]');
      await eventually(() => (inflight.routeInFlight('streamy') === 0 ? true : undefined));
      // A caller that leaves mid-stream gives the slot back too, exactly once.
      const ac = new AbortController();
      const left = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'streamy', stream: true, messages: hello }) });
      expect(left.status).toBe(200);
      ac.abort();
      await eventually(() => (inflight.routeInFlight('streamy') === 0 ? true : undefined));
      expect(await statusOf(post(h.url, '/v1/chat/completions', { model: 'streamy', messages: hello }))).toBe(200);
      expect(inflight.routeInFlight('streamy')).toBe(0);
      expect(inflight.inFlight).toBe(0);
    } finally {
      await h.close();
    }
  });

  it('past server.max_in_flight: 503 + Retry-After before the body is read; probes still answer', async () => {
    const inflight = new InFlight();
    const h = await startHarness({ gateway: { inflight }, config: (url) => ({ ...baseConfig(url), server: { max_in_flight: 1 }, routes: { capped: { targets: [{ provider: 'ant', model: 'slow;latency_ms=500' }] } } }) });
    try {
      const first = post(h.url, '/v1/messages', { model: 'capped', max_tokens: 5, messages: hello });
      await eventually(() => (inflight.inFlight === 1 ? true : undefined));
      const shed = await post(h.url, '/v1/messages', { model: 'capped', max_tokens: 5, messages: hello });
      expect(shed.status).toBe(503);
      expect(shed.headers.get('retry-after')).toBe('1');
      const body = (await shed.json()) as AnthropicError;
      expect(body.error.type).toBe('overloaded_error');
      expect(body.error.message).toMatch(/server\.max_in_flight/);
      const shedOai = await post(h.url, '/v1/chat/completions', { model: 'capped', messages: hello });
      expect(shedOai.status).toBe(503);
      expect(((await shedOai.json()) as OpenAIError).error.type).toBeDefined();
      // Shed before routing: recorded as gateway_overloaded without a route.
      expect(h.records.filter((r) => r.errorClass === 'gateway_overloaded' && r.route === undefined)).toHaveLength(2);
      expect(await statusOf(fetch(`${h.url}/healthz`))).toBe(200);
      expect((await first).status).toBe(200);
      await eventually(() => (inflight.inFlight === 0 ? true : undefined));
      expect(await statusOf(post(h.url, '/v1/messages', { model: 'capped', max_tokens: 5, messages: hello }))).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('secure by default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-hostile-'));
  const providers = 'providers:\n  p: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }\nroutes:\n  r: { targets: [{ provider: p, model: m }] }\ntelemetry: { enabled: false }\n';

  it('keel gateway refuses 0.0.0.0 without auth.keys (from the file or from --host), exit code 1 and what to do', async () => {
    const open = join(dir, 'open.yaml');
    writeFileSync(open, `server:\n  host: 0.0.0.0\n  port: 0\n${providers}`);
    const fromFile = await startKeel(['gateway', '--config', open], dir).then(
      (p) => p.stop().then(() => 'started'),
      (e: unknown) => String(e),
    );
    expect(fromFile).toMatch(/exited with 1/);
    expect(fromFile).toMatch(/open\.yaml:2:\d+: server\.host: 0\.0\.0\.0 is not a loopback address/);
    expect(fromFile).toMatch(/allow_unauthenticated/);

    const loopback = join(dir, 'loopback.yaml');
    writeFileSync(loopback, `server:\n  port: 0\n${providers}`);
    const fromFlag = await startKeel(['gateway', '--config', loopback, '--host', '0.0.0.0'], dir).then(
      (p) => p.stop().then(() => 'started'),
      (e: unknown) => String(e),
    );
    expect(fromFlag).toMatch(/exited with 1/);
    expect(fromFlag).toMatch(/refusing to start: 0\.0\.0\.0 is not a loopback address and auth\.keys is not set/);
  });

  it('with server.allow_unauthenticated it starts on 0.0.0.0, warns at start and on /readyz', async () => {
    const allowed = join(dir, 'allowed.yaml');
    writeFileSync(allowed, `server:\n  port: 0\n  allow_unauthenticated: true\n${providers}`);
    const proc = await startKeel(['gateway', '--config', allowed, '--host', '0.0.0.0'], dir);
    try {
      expect(proc.output()).toMatch(/WARNING: no client keys \(auth\.keys\) on 0\.0\.0\.0/);
      const port = new URL(proc.url).port;
      const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { status: string; warning?: string };
      expect(ready.status).toBe('ready');
      expect(ready.warning).toMatch(/any caller can use this gateway/);
    } finally {
      expect(await proc.stop()).toBe(0);
    }
  });

  it('keel check reports short and placeholder client keys at file:line:col without echoing them', () => {
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `${providers}auth:\n  keys:\n    - { id: a, key: tiny-secret-9 }\n    - { id: b, key: changeme }\n`);
    const res = spawnSync(process.execPath, [keelBin, 'check', file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(/keys\.yaml:8:\d+: auth\.keys\[0\]\.key: is too short \(13 characters\); use at least 20/);
    expect(res.stderr).toMatch(/keys\.yaml:9:\d+: auth\.keys\[1\]\.key: is a placeholder value/);
    expect(res.stderr + res.stdout).not.toContain('tiny-secret-9');
    expect(res.stderr + res.stdout).not.toContain('changeme');
  });
});

describe('redaction of provider errors', () => {
  const PROVIDER_KEY = 'stub-provider-key-0123456789';
  let stub: Server;
  let stubUrl: string;
  beforeAll(async () => {
    // A provider that echoes the credential it was sent, as real ones do ("Incorrect API key provided: …").
    stub = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const status = body.includes('"m500"') ? 500 : 400;
        const message = `Incorrect API key provided: ${req.headers.authorization ?? ''}. You passed key=${PROVIDER_KEY} and AKIAABCDEFGHIJKLMNOP from org sk-proj-abcdefghijklmnop1234.`;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message, type: 'invalid_request_error', code: 'invalid_api_key' } }));
      });
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => stub.close(() => r())));

  it('the caller sees the provider reason with every secret redacted, and so does the log line', async () => {
    const logs: string[] = [];
    const h = await startHarness({
      gateway: { logger: { level: 'warn', stream: { write: (s: string) => void logs.push(s) } } },
      config: () => ({
        auth: keys,
        providers: { stub: { type: 'openai-compatible', base_url: `${stubUrl}/v1`, api_key: PROVIDER_KEY } },
        routes: { 'echo-400': { targets: [{ provider: 'stub', model: 'm400' }] }, 'echo-500': { targets: [{ provider: 'stub', model: 'm500' }], retries: { attempts: 0 } } },
      }),
    });
    try {
      const res = await post(h.url, '/v1/chat/completions', { model: 'echo-400', messages: hello });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(text).toContain('Incorrect API key provided');
      expect(text).toContain('[REDACTED]');
      for (const secret of [PROVIDER_KEY, 'AKIAABCDEFGHIJKLMNOP', 'sk-proj-abcdefghijklmnop1234']) expect(text).not.toContain(secret);

      const failed = await post(h.url, '/v1/chat/completions', { model: 'echo-500', messages: hello });
      expect(failed.status).toBe(502);
      expect(await failed.text()).not.toContain(PROVIDER_KEY);
      const logged = await eventually(() => (logs.some((l) => l.includes('Incorrect API key')) ? logs.join('') : undefined));
      expect(logged).toContain('[REDACTED]');
      expect(logged).not.toContain(PROVIDER_KEY);
      expect(logged).not.toContain(KEY);
    } finally {
      await h.close();
    }
  });
});
