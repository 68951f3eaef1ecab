import type { ServerResponse } from 'node:http';
import { KeelError } from '../errors.js';
import { extend } from '../objects.js';

export interface SinkOptions {
  /** server.write_timeout_ms: longest wait for the caller to drain what Keel wrote. */
  writeTimeoutMs: number;
  /**
   * Called once when the caller stalled past writeTimeoutMs, before its socket is destroyed,
   * so the request's abort carries caller_stalled rather than looking like a disconnect.
   */
  onStall: (err: KeelError) => void;
}

const NO_STALL: SinkOptions = { writeTimeoutMs: 30_000, onStall: () => undefined };

/**
 * The caller's side of a stream. Nothing is sent until `commit`, so a failure
 * before the first token can still become an ordinary JSON error (or, later, a
 * transparent failover). Writes wait for 'drain', so a slow reader slows the
 * upstream read instead of growing Keel's memory; a reader that drains nothing
 * for writeTimeoutMs is cut, so it cannot hold the upstream open for ever either.
 */
export class ClientSink {
  #committed = false;
  readonly #res: ServerResponse;
  readonly #headers: () => Record<string, string>;
  readonly #onCommit: () => void;
  readonly #opts: SinkOptions;

  constructor(res: ServerResponse, headers: () => Record<string, string>, onCommit: () => void = () => undefined, opts: SinkOptions = NO_STALL) {
    this.#res = res;
    this.#headers = headers;
    this.#onCommit = onCommit;
    this.#opts = opts;
  }

  get committed(): boolean {
    return this.#committed;
  }

  /** The caller has gone, was cut, or the response is finished: stop producing. */
  get closed(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }

  commit(): void {
    if (this.#committed) return;
    this.#committed = true;
    this.#onCommit();
    this.#res.writeHead(
      200,
      extend(this.#headers(), {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        // Tell nginx-style proxies in front of Keel not to buffer the stream.
        'x-accel-buffering': 'no',
      }),
    );
  }

  /**
   * Undefined when the text went out at once; a promise when Keel must wait on the caller
   * (its socket is full). The relay stops its provider clocks for exactly that wait.
   */
  write(text: string): Promise<void> | undefined {
    if (text === '' || this.closed) return undefined;
    if (!this.#committed) this.commit();
    return this.#res.write(text) ? undefined : this.#drained();
  }

  end(text = ''): void {
    if (this.closed) return;
    if (!this.#committed) this.commit();
    this.#res.end(text);
  }

  /** Resolves on drain or close, whichever comes first; cuts the caller when neither comes in time. */
  #drained(): Promise<void> {
    const res = this.#res;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        res.off('drain', done);
        res.off('close', done);
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        this.#opts.onStall(new KeelError('KEEL_CLIENT_STALLED', `the caller read nothing for ${this.#opts.writeTimeoutMs} ms; the stream was cut`));
        res.destroy();
      }, this.#opts.writeTimeoutMs);
      res.once('drain', done);
      res.once('close', done);
    });
  }
}
