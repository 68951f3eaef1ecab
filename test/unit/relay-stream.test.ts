import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { KeelError } from '../../gateway/errors.js';
import { formats } from '../../gateway/formats/index.js';
import { ClientSink } from '../../gateway/relay/sink.js';
import { newStreamStats } from '../../gateway/relay/stats.js';
import { relayStream, type StreamRelayOptions } from '../../gateway/relay/stream.js';
import { Watchdog } from '../../gateway/relay/watchdog.js';
import { buildRedactor } from '../../gateway/redact.js';
import { writeSse } from '../../gateway/sse/read.js';
import { Abort } from '../../gateway/upstream/abort.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chunk = (delta: object) => Buffer.from(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta, finish_reason: null }] })}\n\n`);

/**
 * The caller's socket as the sink sees it: every write reports "full" and drains `drainMs`
 * later (a slow reader), so the relay spends most of its time waiting on the caller.
 */
function slowCaller(drainMs: number): ServerResponse {
  const res = Object.assign(new EventEmitter(), {
    destroyed: false,
    writableEnded: false,
    writeHead: () => res,
    write: () => {
      setTimeout(() => res.emit('drain'), drainMs);
      return false;
    },
    end: () => {
      res.writableEnded = true;
    },
    destroy: () => {
      res.destroyed = true;
    },
  });
  return res as unknown as ServerResponse;
}

function options(body: AsyncIterable<Uint8Array>, sink: ClientSink, over: Partial<StreamRelayOptions> = {}): StreamRelayOptions {
  const signal = new Abort();
  return {
    body,
    decoder: formats['openai-chat'].createStreamDecoder(),
    render: (sse) => writeSse(sse),
    finalise: () => 'data: [DONE]\n\n',
    sink,
    stats: newStreamStats(0),
    watchdog: new Watchdog(),
    idleMs: 60,
    maxEventBytes: 1024 * 1024,
    maxBytes: 32 * 1024 * 1024,
    abort: (err: KeelError) => signal.abort(err),
    signal,
    providerName: 'p',
    redact: (t) => t,
    claim: () => true,
    ...over,
  };
}

describe('relayStream', () => {
  it('time blocked on a slow caller is not provider silence: no idle timeout while the caller drains', async () => {
    // The provider is prompt (a token every 5 ms); each write waits 100 ms on the caller, past idle_ms (60).
    const signal = new Abort();
    async function* prompt() {
      for (let i = 0; i < 5; i++) {
        // As undici does: the relay's abort ends the upstream body with its reason.
        if (signal.aborted) throw signal.reason;
        yield chunk({ content: `t${i} ` });
        await sleep(5);
      }
      yield chunk({});
      yield Buffer.from('data: [DONE]\n\n');
    }
    const o = options(prompt(), new ClientSink(slowCaller(100), () => ({})), { signal, abort: (err) => signal.abort(err) });
    const outcome = await relayStream(o);
    expect(outcome).toEqual({ ok: true });
    expect(signal.aborted).toBe(false);
    expect(o.stats.tokenChunks).toBe(5);
  });

  it('a provider silent past idle_ms is still cut while the caller keeps up', async () => {
    const signal = new Abort();
    // As undici does: the relay's abort ends the upstream body with its reason.
    async function* silent() {
      yield chunk({ content: 'one ' });
      await sleep(500);
      if (signal.aborted) throw signal.reason;
      yield chunk({ content: 'two' });
    }
    const started = Date.now();
    let abortedAfter = 0;
    const abort = (err: KeelError) => {
      abortedAfter = Date.now() - started;
      signal.abort(err);
    };
    const o = options(silent(), new ClientSink(slowCaller(1), () => ({})), { signal, abort });
    const outcome = await relayStream(o);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect([outcome.error.errorClass, outcome.error.upstreamCode, outcome.committed]).toEqual(['provider_timeout', 'stream_idle_too_long', true]);
    expect(abortedAfter).toBeGreaterThanOrEqual(55);
    expect(abortedAfter).toBeLessThan(400);
  });

  it('output held back before the first token is bounded by max_bytes: past it, provider_malformed before any byte reaches the caller', async () => {
    async function* chatty() {
      for (let i = 0; i < 1000; i++) yield chunk({ role: 'assistant', content: '' });
    }
    const res = slowCaller(1);
    const o = options(chatty(), new ClientSink(res, () => ({})), { maxBytes: 20_000 });
    const outcome = await relayStream(o);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect([outcome.error.errorClass, outcome.error.upstreamCode, outcome.committed]).toEqual(['provider_malformed', 'response_too_large', false]);
  });

  it("a provider's in-band error text has secrets redacted before it becomes the caller's error event", async () => {
    async function* failing() {
      yield Buffer.from(`data: ${JSON.stringify({ error: { message: 'Incorrect API key provided: sk-live-0123456789abcdef and Bearer tok_abcdefghijklmnop' } })}\n\n`);
    }
    const o = options(failing(), new ClientSink(slowCaller(1), () => ({})), { redact: buildRedactor(['sk-live-0123456789abcdef']) });
    const outcome = await relayStream(o);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) {
      expect(outcome.error.message).toMatch(/reported an error mid-stream: Incorrect API key provided: \[REDACTED\]/);
      expect(outcome.error.message).not.toMatch(/sk-live|tok_abc/);
    }
  });
});
