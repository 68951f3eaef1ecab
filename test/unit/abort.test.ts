import { request } from 'undici';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Abort, sleepUnless } from '../../gateway/upstream/abort.js';

describe('Abort', () => {
  it('fires each listener once with the first reason, and at once for late subscribers', () => {
    const a = new Abort();
    const seen: unknown[] = [];
    const off = a.onAbort(() => seen.push(a.reason));
    a.onAbort(() => seen.push('second'));
    a.abort('first');
    a.abort('ignored');
    off();
    a.onAbort(() => seen.push('late'));
    expect(seen).toEqual(['first', 'second', 'late']);
    expect(a.aborted).toBe(true);
    expect(a.reason).toBe('first');
  });

  it('leaves no listener behind when unsubscribed', () => {
    const a = new Abort();
    const off = a.onAbort(() => undefined);
    expect(a.listenerCount('abort')).toBe(1);
    off();
    expect(a.listenerCount('abort')).toBe(0);
  });

  it('sleepUnless resolves true when the time runs out and false when aborted first', async () => {
    const a = new Abort();
    expect(await sleepUnless(5, a)).toBe(true);
    expect(a.listenerCount('abort')).toBe(0);
    const pending = sleepUnless(10_000, a);
    a.abort();
    expect(await pending).toBe(false);
    expect(await sleepUnless(10_000, a)).toBe(false);
  });

  it('is accepted by undici as a request signal and aborts with its own reason', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = server.address() as AddressInfo;
      const a = new Abort();
      const res = await request(`http://127.0.0.1:${port}/`, { signal: a });
      const reason = new Error('caller left');
      setTimeout(() => a.abort(reason), 20);
      await expect(res.body.text()).rejects.toBe(reason);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
