import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import { KeelError } from '../errors.js';
import type { Abort } from '../upstream/abort.js';

/**
 * While draining, keep-alive sockets that turn idle are closed this often: Node's server.close()
 * closes the idle ones once, and one that finishes its answer later would otherwise stay open
 * until keep_alive_timeout_ms (72 s) and hold the process.
 */
const SWEEP_MS = 25;

/** After the cut, how long cut requests get to write their error (a stream's last event) before their sockets are destroyed. */
const CUT_MS = 1_000;

export function shuttingDown(message = 'This gateway is shutting down; retry on another replica.'): KeelError {
  return new KeelError('KEEL_SHUTTING_DOWN', message, { retryAfterMs: 1_000 });
}

/**
 * The gateway's shutdown state: draining (readyz 503, new requests refused) and the requests
 * still running, each by its clientGone abort so a cut reaches every wait of the request (its
 * attempts, a retry backoff) the way a disconnect does, with a gateway_shutdown reason.
 */
export class Drain {
  #draining = false;
  #cut: KeelError | undefined;
  readonly #live = new Set<Abort>();

  get draining(): boolean {
    return this.#draining;
  }

  /** Requests running now. */
  get running(): number {
    return this.#live.size;
  }

  /** Tracks one request until the returned function is called; one that starts after the cut is cut at once. */
  track(gone: Abort): () => void {
    if (this.#cut !== undefined) {
      gone.abort(this.#cut);
      return () => undefined;
    }
    this.#live.add(gone);
    return () => {
      this.#live.delete(gone);
    };
  }

  begin(): void {
    this.#draining = true;
  }

  /** Ends every request still running with KEEL_SHUTTING_DOWN; returns how many there were. */
  cut(graceMs: number): number {
    this.#draining = true;
    this.#cut = shuttingDown(`This gateway is shutting down and the request outlived server.shutdown_grace_ms (${graceMs} ms).`);
    const n = this.#live.size;
    for (const gone of this.#live) gone.abort(this.#cut);
    this.#live.clear();
    return n;
  }
}

export interface DrainReport {
  /** Requests running when the drain began. */
  inFlight: number;
  /** Requests still running at the end of the grace, ended with gateway_shutdown. */
  cut: number;
  ms: number;
}

function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.finally(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Shutdown with a deadline: stop accepting at once (the listening socket closes; new connections
 * are refused), let requests in flight run for graceMs, then cut the rest (a stream gets its
 * in-band error event) and, CUT_MS later, destroy whatever socket is still open. Resolves when
 * the server is closed: at most graceMs + CUT_MS after it was called.
 */
export async function drainGateway(app: FastifyInstance, drain: Drain, graceMs: number): Promise<DrainReport> {
  const started = performance.now();
  const inFlight = drain.running;
  drain.begin();
  const sweep = setInterval(() => app.server.closeIdleConnections(), SWEEP_MS);
  const closed = app.close();
  let cut = 0;
  try {
    if (!(await settlesWithin(closed, graceMs))) {
      cut = drain.cut(graceMs);
      if (!(await settlesWithin(closed, CUT_MS))) app.server.closeAllConnections();
      await closed;
    }
  } finally {
    clearInterval(sweep);
  }
  return { inFlight, cut, ms: Math.round(performance.now() - started) };
}
