import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { UpstreamBody } from '../../gateway/upstream/body.js';

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
