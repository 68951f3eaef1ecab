import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { UpstreamBody, type BodyLimits } from '../../gateway/upstream/body.js';

/** undici's side of one request, as the body sees it: pause, resume, abort. */
function controller(): Dispatcher.DispatchController & { aborts: Error[] } {
  let paused = false;
  let reason: Error | null = null;
  const aborts: Error[] = [];
  return {
    aborts,
    get aborted() {
      return reason !== null;
    },
    get paused() {
      return paused;
    },
    get reason() {
      return reason;
    },
    abort(err: Error) {
      reason = err;
      aborts.push(err);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
    },
  };
}

describe('UpstreamBody', () => {
  it('reads the whole text, a UTF-8 character split across chunks included', async () => {
    const body = new UpstreamBody();
    const bytes = Buffer.from('{"text":"héllo"}');
    const at = bytes.indexOf(0xc3) + 1;
    body.push(bytes.subarray(0, at));
    setTimeout(() => {
      body.push(bytes.subarray(at));
      body.end();
    }, 5);
    expect(await body.text()).toBe('{"text":"héllo"}');
  });

  it('pauses the upstream past 64 KiB queued and resumes once the reader drains it', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    for (let i = 0; i < 5; i++) body.push(Buffer.alloc(16 * 1024));
    expect(c.paused).toBe(true);
    body.end();
    let bytes = 0;
    for await (const chunk of body) {
      bytes += chunk.length;
      if (bytes >= 32 * 1024) expect(c.paused).toBe(false);
    }
    expect(bytes).toBe(80 * 1024);
  });

  it('a reader that stops early aborts the request; a finished one does not', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    body.push(Buffer.from('a'));
    body.push(Buffer.from('b'));
    for await (const chunk of body) {
      expect(Buffer.from(chunk).toString()).toBe('a');
      break;
    }
    expect(c.aborts).toHaveLength(1);

    const done = controller();
    const whole = new UpstreamBody();
    whole.attach(done);
    whole.push(Buffer.from('x'));
    whole.end();
    expect(await whole.text()).toBe('x');
    whole.destroy();
    expect(done.aborts).toHaveLength(0);
  });

  it('a failure reaches the reader after the chunks that came before it', async () => {
    const body = new UpstreamBody();
    body.push(Buffer.from('partial'));
    const reason = new Error('socket hang up');
    body.fail(reason);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of body) seen.push(Buffer.from(chunk).toString());
      })(),
    ).rejects.toBe(reason);
    expect(seen).toEqual(['partial']);
  });
});

describe('UpstreamBody.text within limits', () => {
  const limits = (over: Partial<BodyLimits> = {}): BodyLimits => ({ idleMs: 60, maxBytes: 1000, truncate: false, provider: 'p', ...over });
  const fails = async (p: Promise<string>) => p.then(() => undefined, (e: unknown) => (e instanceof KeelError ? e : undefined));

  it('a body that stops mid-way fails after idle_ms of silence as provider_timeout and drops the connection', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    body.push(Buffer.from('{"a":'));
    const started = Date.now();
    // Chunks that keep coming reset the clock: 4 × 40 ms is longer than idle_ms, yet no gap is.
    for (let i = 0; i < 4; i++) setTimeout(() => body.push(Buffer.from(' ')), 40 * (i + 1));
    const err = await fails(body.text(limits()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(err?.errorClass).toBe('provider_timeout');
    expect(err?.upstreamCode).toBe('body_idle_timeout');
    expect(c.aborts).toHaveLength(1);
  });

  it('past max_bytes: provider_malformed, the connection dropped, nothing more held', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    for (let i = 0; i < 3; i++) body.push(Buffer.alloc(400, 'x'));
    const err = await fails(body.text(limits()));
    expect(err?.errorClass).toBe('provider_malformed');
    expect(err?.upstreamCode).toBe('response_too_large');
    expect(c.aborts).toHaveLength(1);
  });

  it('a declared content-length past max_bytes fails before a byte is read', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    body.declaredLength = 5000;
    expect((await fails(body.text(limits())))?.upstreamCode).toBe('response_too_large');
    expect(c.aborts).toHaveLength(1);
  });

  it('an error body is cut at the limit and what came is returned', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    body.declaredLength = 10_000_000;
    body.push(Buffer.alloc(700, 'a'));
    body.push(Buffer.alloc(700, 'b'));
    const text = await body.text(limits({ truncate: true }));
    expect(text).toBe('a'.repeat(700) + 'b'.repeat(300));
    expect(c.aborts).toHaveLength(1);
  });

  it('a body within its limits is read whole; its connection is kept', async () => {
    const c = controller();
    const body = new UpstreamBody();
    body.attach(c);
    setTimeout(() => {
      body.push(Buffer.alloc(1000, 'k'));
      body.end();
    }, 30);
    expect(await body.text(limits())).toHaveLength(1000);
    expect(c.aborts).toHaveLength(0);
  });
});
