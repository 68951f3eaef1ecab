import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeelError } from '../../gateway/errors.js';
import { ClientSink } from '../../gateway/relay/sink.js';
import { Watchdog } from '../../gateway/relay/watchdog.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Watchdog', () => {
  it('fires when not re-armed in time; a pause swallows the deadline; the next arm restarts it in full', async () => {
    const w = new Watchdog();
    let fired = 0;
    w.arm(40, () => fired++);
    await sleep(70);
    expect(fired).toBe(1);
    w.arm(40, () => fired++);
    w.pause();
    await sleep(70);
    expect(fired).toBe(1); // the deadline passed while paused: nothing
    w.arm(40, () => fired++); // the same (fired) timer, revived by refresh
    await sleep(20);
    expect(fired).toBe(1);
    await sleep(50);
    expect(fired).toBe(2);
    w.cancel();
  });
});

/** A real socket pair: Keel's ServerResponse on one end, a client that reads or not on the other. */
describe('ClientSink write timeout', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    return new Promise<void>((r) => (server === undefined ? r() : server.close(() => r())));
  });

  /** The sink over a fresh response, committed, once the client has its headers (and has stopped reading). */
  async function pausedPair(writeTimeoutMs: number, onStall: (err: KeelError) => void): Promise<{ res: ServerResponse; client: IncomingMessage; sink: ClientSink }> {
    let onRes: (res: ServerResponse) => void = () => undefined;
    const gotRes = new Promise<ServerResponse>((r) => (onRes = r));
    server = createServer((_req, res) => onRes(res));
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const gotClient = new Promise<IncomingMessage>((resolve) => {
      const req = request({ port, host: '127.0.0.1', method: 'POST' }, resolve);
      req.on('error', () => undefined);
      req.end();
    });
    const res = await gotRes;
    const sink = new ClientSink(res, () => ({}), undefined, { writeTimeoutMs, onStall });
    sink.commit();
    res.flushHeaders();
    const client = await gotClient;
    client.on('error', () => undefined);
    client.pause();
    return { res, client, sink };
  }

  /** Writes until a write stays blocked (kernel buffers full); returns that wait, and when it began. */
  async function fill(sink: ClientSink): Promise<{ blocked: Promise<void>; since: number }> {
    const piece = 'z'.repeat(256 * 1024);
    for (let i = 0; i < 400; i++) {
      const since = Date.now();
      const blocked = sink.write(piece);
      if (blocked === undefined) continue;
      const drained = await Promise.race([blocked.then(() => true), sleep(50).then(() => false)]);
      if (!drained) return { blocked, since };
    }
    throw new Error('the socket never filled');
  }

  it('a caller that drains nothing is cut after write_timeout_ms with caller_stalled, reported before the socket goes', async () => {
    const seen: { err: KeelError; destroyedAlready: boolean }[] = [];
    const { res, sink } = await pausedPair(150, (err) => seen.push({ err, destroyedAlready: res.destroyed }));
    const { blocked, since } = await fill(sink);
    await blocked;
    expect(Date.now() - since).toBeGreaterThanOrEqual(145);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.err.code).toBe('KEEL_CLIENT_STALLED');
    expect(seen[0]?.err.errorClass).toBe('caller_stalled');
    expect(seen[0]?.destroyedAlready).toBe(false);
    expect(res.destroyed).toBe(true);
    expect(sink.closed).toBe(true);
  });

  it('a slow caller that keeps draining is never cut', async () => {
    let stalls = 0;
    const { client, sink } = await pausedPair(300, () => stalls++);
    const { blocked } = await fill(sink);
    setTimeout(() => client.resume(), 100);
    await blocked;
    expect(stalls).toBe(0);
    expect(sink.closed).toBe(false);
    sink.end();
  });
});
