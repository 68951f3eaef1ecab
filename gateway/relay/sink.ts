import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/**
 * The caller's side of a stream. Nothing is sent until `commit`, so a failure
 * before the first token can still become an ordinary JSON error (or, later, a
 * transparent failover). Writes wait for 'drain', so a slow reader slows the
 * upstream read instead of growing Keel's memory.
 */
export class ClientSink {
  #committed = false;
  readonly #res: ServerResponse;
  readonly #headers: () => Record<string, string>;
  readonly #onCommit: () => void;

  constructor(res: ServerResponse, headers: () => Record<string, string>, onCommit: () => void = () => undefined) {
    this.#res = res;
    this.#headers = headers;
    this.#onCommit = onCommit;
  }

  get committed(): boolean {
    return this.#committed;
  }

  /** The caller has gone (or the response is finished): stop producing. */
  get closed(): boolean {
    return this.#res.destroyed || this.#res.writableEnded;
  }

  commit(): void {
    if (this.#committed) return;
    this.#committed = true;
    this.#onCommit();
    this.#res.writeHead(200, {
      ...this.#headers(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // Tell nginx-style proxies in front of Keel not to buffer the stream.
      'x-accel-buffering': 'no',
    });
  }

  async write(text: string): Promise<void> {
    if (text === '' || this.closed) return;
    if (!this.#committed) this.commit();
    if (!this.#res.write(text)) {
      // Wait for drain or close, whichever comes first, and leave no listener behind.
      const done = new AbortController();
      try {
        await Promise.race([once(this.#res, 'drain', { signal: done.signal }), once(this.#res, 'close', { signal: done.signal })]);
      } finally {
        done.abort();
      }
    }
  }

  end(text = ''): void {
    if (this.closed) return;
    if (!this.#committed) this.commit();
    this.#res.end(text);
  }
}
