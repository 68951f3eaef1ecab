import { connect } from 'node:net';

/**
 * A bounded flush (shutdown): each destination gets until the deadline, then what it still
 * holds is dropped and counted. OTLP exporters retry a refused connection with backoff for
 * their whole export timeout, so an unreachable destination is found first, by a TCP connect,
 * and skipped: an idle gateway whose collector is gone exits at once instead of after retries.
 */
export interface SpanShutdown {
  timeoutMs: number;
  /** Destinations not to export to at all (unreachable): their spans are dropped and counted. */
  skip: readonly string[];
}

/** What a bounded telemetry shutdown did, for the exit log. */
export interface FlushReport {
  ms: number;
  /** Spans not exported: still queued at the deadline, on an unreachable destination, or in a failed export. */
  spansDropped: number;
  /** The last metrics export to the collector did not complete (unreachable or past the deadline). */
  metricsDropped: boolean;
  /** Destinations that did not accept a TCP connection. */
  unreachable: string[];
}

/** Longest a reachability check waits: a destination that cannot accept a TCP connection in this long will not take an export in time either. */
export const PROBE_MS = 1_000;

/** True when `url`'s host accepts a TCP connection within `ms`. */
export function reachable(url: string, ms: number): Promise<boolean> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve(false);
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when `p` settled within `ms` (its result is not needed, only that it is over). */
export function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, ms));
    void p.then(
      () => (clearTimeout(timer), resolve(true)),
      () => (clearTimeout(timer), resolve(true)),
    );
  });
}
