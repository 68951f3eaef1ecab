import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { freePort } from '../helpers/ports.js';
import { startKeel, type KeelProcess } from '../helpers/procs.js';

/**
 * Shutdown with a deadline (issue 13 §4), against real `keel gateway` processes: SIGTERM stops
 * the listener at once, /readyz turns 503, in-flight requests get server.shutdown_grace_ms,
 * open streams then end with an in-band gateway_shutdown error, and the telemetry flush is
 * bounded, so a gateway whose collector is gone exits at once.
 */

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.close();
});

interface Gw {
  proc: KeelProcess;
  port: number;
  client: OpenAI;
  /** Sends SIGTERM; resolves with the exit code and the milliseconds from the signal to the exit. */
  term(): Promise<{ code: number | null; ms: number }>;
}

/** A gateway process over the simulator, sending telemetry to `collectorPort` (nothing listens there unless the test says so). */
async function gateway(o: { graceMs: number; collectorPort: number; flushMs?: number }): Promise<Gw> {
  const dir = mkdtempSync(join(tmpdir(), 'keel-shutdown-'));
  writeFileSync(
    join(dir, 'keel.yaml'),
    [
      `server: { shutdown_grace_ms: ${o.graceMs} }`,
      'providers:',
      `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
      'routes:',
      '  chat: { targets: [{ provider: sim, model: sim-model }] }',
      '  slow: { targets: [{ provider: sim, model: "sim-model;latency_ms=1200" }] }',
      // 600 tokens 100 ms apart: a 60 s stream.
      '  long: { targets: [{ provider: sim, model: "sim-model;tokens=600;itl_ms=100" }], breaker: { consecutive_failures: 1 } }',
      'telemetry:',
      `  collector: { port: ${o.collectorPort} }`,
      ...(o.flushMs === undefined ? [] : [`  flush_timeout_ms: ${o.flushMs}`]),
      `slo: { port: ${await freePort()} }`,
      '',
    ].join('\n'),
  );
  const proc = await startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  const port = Number(new URL(proc.url).port);
  return {
    proc,
    port,
    client: new OpenAI({ baseURL: `${proc.url}/v1`, apiKey: 'k', maxRetries: 0 }),
    term: async () => {
      const exited = once(proc.child, 'exit') as Promise<[number | null]>;
      const started = Date.now();
      proc.child.kill('SIGTERM');
      const [code] = await exited;
      return { code, ms: Date.now() - started };
    },
  };
}

/** A connection made now with a request begun but not finished: a probe or a caller caught mid-request by the SIGTERM. */
async function halfSent(port: number, head: string): Promise<{ finish(rest: string): Promise<string> }> {
  const socket: Socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(head);
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString()));
  const closed = once(socket, 'close');
  return {
    async finish(rest) {
      socket.write(rest);
      await closed;
      return got;
    },
  };
}

/** The error code of a TCP connect to `port`, or 'connected'. */
async function connectOutcome(port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return 'connected';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  } finally {
    socket.destroy();
  }
}

const untilLogged = async (p: KeelProcess, pattern: RegExp) => expect.poll(() => p.output(), { timeout: 2000, interval: 10 }).toMatch(pattern);
const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('keel gateway on SIGTERM', () => {
  it('idle with no collector reachable: exits 0 within 2 s, saying what telemetry it dropped', async () => {
    const gw = await gateway({ graceMs: 20_000, collectorPort: await freePort() });
    const { code, ms } = await gw.term();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
    // Idle, it still holds one span: its startup's config_loaded audit event (keel.audit).
    expect(gw.proc.output()).toMatch(/telemetry flush: 1 span\(s\) and the last metrics export dropped .*\(unreachable: collector\)/);
  }, 20_000);

  it('readyz is 503 at once, a new connection is refused and a new request refused in its format, while the request in flight completes within the grace', async () => {
    const gw = await gateway({ graceMs: 5_000, collectorPort: await freePort() });
    const probe = await halfSent(gw.port, 'GET /readyz HTTP/1.1\r\nHost: keel\r\n');
    const body = JSON.stringify({ model: 'chat', ...ask });
    const late = await halfSent(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: keel\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`);
    const inFlight = gw.client.chat.completions.create({ model: 'slow', ...ask });
    await new Promise((r) => setTimeout(r, 300));
    const term = gw.term();
    const signalled = Date.now();
    await untilLogged(gw.proc, /shutting down/);
    expect(await probe.finish('\r\n')).toMatch(/^HTTP\/1\.1 503[\s\S]*"status":"shutting_down"/);
    expect(await connectOutcome(gw.port)).toBe('ECONNREFUSED');
    const refused = await late.finish(`\r\n${body}`);
    expect(refused).toMatch(/^HTTP\/1\.1 503/);
    expect(refused).toMatch(/x-keel-error-code: KEEL_SHUTTING_DOWN/i);
    expect(refused).toMatch(/"type":"[a-z_]+"/);
    const answer = await inFlight;
    expect(answer.choices[0]?.message.content).toBeTruthy();
    expect(Date.now() - signalled).toBeLessThan(5_000);
    const { code, ms } = await term;
    expect(code).toBe(0);
    // Drained once the answer went out (~0.9 s after the signal), not at the 5 s grace.
    expect(ms).toBeLessThan(2_500);
  }, 20_000);

  it('a 60 s stream is ended at the grace with an in-band error the openai SDK raises; the process exits right after', async () => {
    const gw = await gateway({ graceMs: 1_000, collectorPort: await freePort() });
    const stream = await gw.client.chat.completions.create({ model: 'long', stream: true, ...ask });
    let chunks = 0;
    let signalled = 0;
    let term: ReturnType<Gw['term']> | undefined;
    let caught: unknown;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) chunks++;
        if (chunks === 3 && term === undefined) {
          signalled = Date.now();
          term = gw.term();
        }
      }
    } catch (err) {
      caught = err;
    }
    const cutAfter = Date.now() - signalled;
    expect(caught).toBeInstanceOf(OpenAI.APIError);
    expect(String((caught as Error).message)).toMatch(/shutting down/);
    // Cut at the 1 s grace, give or take a token gap, not at the end of the answer.
    expect(cutAfter).toBeGreaterThanOrEqual(900);
    expect(cutAfter).toBeLessThan(2_000);
    expect(chunks).toBeLessThan(40);
    if (term === undefined) throw new Error('the stream ended before SIGTERM was sent');
    const { code, ms } = await term;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2_500);
    expect(gw.proc.output()).toMatch(/1 request\(s\) still running at the grace were ended \(gateway_shutdown\)/);
  }, 20_000);

  it('after twenty requests with no collector: exits within 2 s; the spans it could not send are counted in the log', async () => {
    const gw = await gateway({ graceMs: 20_000, collectorPort: await freePort() });
    for (let i = 0; i < 20; i++) await gw.client.chat.completions.create({ model: 'chat', ...ask });
    const { code, ms } = await gw.term();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2_000);
    expect(gw.proc.output()).toMatch(/telemetry flush: \d+ span\(s\) and the last metrics export dropped/);
  }, 20_000);

  it('a collector that accepts connections and never answers: the flush gives up at telemetry.flush_timeout_ms', async () => {
    const held: Socket[] = [];
    const silent: Server = createServer((s) => void held.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const { port } = silent.address() as { port: number };
      const gw = await gateway({ graceMs: 20_000, collectorPort: port, flushMs: 1_000 });
      for (let i = 0; i < 5; i++) await gw.client.chat.completions.create({ model: 'chat', ...ask });
      const { code, ms } = await gw.term();
      expect(code).toBe(0);
      expect(ms).toBeGreaterThanOrEqual(1_000);
      expect(ms).toBeLessThan(3_000);
      expect(gw.proc.output()).toMatch(/telemetry flush: \d+ span\(s\) and the last metrics export dropped in \d+ ms \(telemetry\.flush_timeout_ms 1000 ms passed\)/);
    } finally {
      held.forEach((s) => s.destroy());
      silent.close();
    }
  }, 20_000);
});
