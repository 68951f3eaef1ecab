import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorKind, SimApi } from './api.js';

export interface AttemptRecord {
  seq: number;
  /** Simulator clock (ms) at arrival and at the end of the response (or abort). */
  at: number;
  endedAt?: number;
  api: SimApi['id'] | 'openai-embeddings';
  path: string;
  model: string;
  stream: boolean;
  /** Lower-cased request headers, as received. */
  headers: Record<string, string>;
  body: unknown;
  outcome: string;
  tokensSent?: number;
}

const PIECE = 'x'.repeat(64 * 1024);

/**
 * One request/response pair: writes with backpressure, sleeps that end early
 * when the caller leaves or the simulator closes, and the attempt record kept
 * up to date with how it ended.
 */
export class Exchange {
  readonly record: AttemptRecord;
  readonly #res: ServerResponse;
  readonly #abort = new AbortController();
  readonly #now: () => number;
  #selfClosed = false;

  constructor(req: IncomingMessage, res: ServerResponse, record: AttemptRecord, now: () => number, shutdown: AbortSignal) {
    this.record = record;
    this.#res = res;
    this.#now = now;
    const onShutdown = () => this.#abort.abort();
    shutdown.addEventListener('abort', onShutdown, { once: true });
    res.once('close', () => {
      shutdown.removeEventListener('abort', onShutdown);
      if (!res.writableFinished && !this.#selfClosed) {
        this.record.outcome = 'client_aborted';
        this.record.endedAt = now();
      }
      this.#abort.abort();
    });
    void req;
  }

  get gone(): boolean {
    return this.#abort.signal.aborted;
  }

  sleep(ms: number | undefined): Promise<void> {
    if (!ms || this.gone) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#abort.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Waits until the caller goes away or the simulator closes (hang, stall). */
  async forever(outcome: string): Promise<void> {
    this.record.outcome = outcome;
    if (!this.gone) await once(this.#abort.signal, 'abort');
    this.record.endedAt ??= this.#now();
  }

  head(status: number, headers: Record<string, string>): void {
    if (!this.gone) this.#res.writeHead(status, headers);
  }

  async write(text: string): Promise<void> {
    if (this.gone) return;
    if (this.#res.write(text)) return;
    const done = new AbortController();
    try {
      await Promise.race([once(this.#res, 'drain', { signal: done.signal }), once(this.#abort.signal, 'abort', { signal: done.signal })]);
    } finally {
      done.abort();
    }
  }

  /**
   * Writes `bytes` filler bytes in 64 KiB pieces, each after the last one drained: a runaway
   * body of any size costs the simulator one piece of memory. Stops when the reader leaves.
   */
  async pad(bytes: number): Promise<void> {
    for (let left = bytes; left > 0 && !this.gone; left -= PIECE.length) await this.write(left >= PIECE.length ? PIECE : PIECE.slice(0, left));
  }

  /** Ends the connection abruptly once what was written has left (a mid-stream cut, not lost frames). */
  async cut(): Promise<void> {
    if (!this.gone) await new Promise<void>((resolve) => this.#res.write('', () => resolve()));
    this.destroy('cut');
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.gone) return;
    this.#res.writeHead(status, { 'content-type': 'application/json', ...headers });
    this.#res.end(JSON.stringify(body));
    this.finish(this.record.outcome === 'pending' ? 'ok' : this.record.outcome);
  }

  error(api: Pick<SimApi, 'error'>, kind: ErrorKind, status: number, message: string, headers: Record<string, string> = {}): void {
    this.record.outcome = kind;
    this.json(status, api.error(kind, status, message), headers);
  }

  end(outcome: string): void {
    if (!this.gone) this.#res.end();
    this.finish(outcome);
  }

  /** Destroys the connection: before headers it is a reset, mid-stream a cut. */
  destroy(outcome: string): void {
    this.#selfClosed = true;
    this.record.outcome = outcome;
    this.record.endedAt = this.#now();
    this.#res.socket?.destroy();
    this.#res.destroy();
  }

  finish(outcome: string): void {
    this.record.outcome = outcome;
    this.record.endedAt = this.#now();
  }
}
