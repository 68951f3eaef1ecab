import type { ServerResponse } from 'node:http';
import { KeelError } from '../errors.js';

/**
 * Load shedding: a bounded number of requests in flight, globally and per route. Past a
 * bound the caller gets 503 + Retry-After at once instead of joining an unbounded queue
 * (DESIGN.md §6). Counters are plain integers: O(1) to take and to give back.
 */
export class InFlight {
  private total = 0;
  private readonly perRoute = new Map<string, number>();

  /** Requests in flight now (all routes, and one route): for tests and gauges. */
  get inFlight(): number {
    return this.total;
  }

  routeInFlight(route: string): number {
    return this.perRoute.get(route) ?? 0;
  }

  /** Takes a global slot until `res` closes; throws KEEL_OVERLOADED when `max` are taken. */
  admit(res: ServerResponse, max: number | undefined): void {
    if (max !== undefined && this.total >= max) {
      throw overloaded(`This gateway has ${max} requests in flight (server.max_in_flight); retry shortly.`);
    }
    this.total++;
    releaseOnClose(res, () => this.total--);
  }

  /** Takes one of the route's slots until `res` closes; throws KEEL_OVERLOADED when `max` are taken. */
  admitRoute(res: ServerResponse, route: string, max: number | undefined): void {
    if (max === undefined) return;
    const n = this.perRoute.get(route) ?? 0;
    if (n >= max) throw overloaded(`The model \`${route}\` has ${max} requests in flight (routes.${route}.max_in_flight); retry shortly.`);
    this.perRoute.set(route, n + 1);
    releaseOnClose(res, () => this.perRoute.set(route, (this.perRoute.get(route) ?? 1) - 1));
  }
}

/** How long a shed caller is told to wait: one second, long enough for a slot to free, short enough to be invisible. */
export const SHED_RETRY_AFTER_MS = 1000;

function overloaded(message: string): KeelError {
  return new KeelError('KEEL_OVERLOADED', message, { retryAfterMs: SHED_RETRY_AFTER_MS });
}

/**
 * Gives the slot back exactly once, when the response is over: 'close' fires after the last
 * byte of an answer, a stream included (the handler returned long before), and when the
 * caller went away mid-way. The guard keeps a second event from freeing a slot twice.
 */
function releaseOnClose(res: ServerResponse, release: () => void): void {
  // Already over (the caller left while its body was read): 'close' will not come again.
  if (res.closed) {
    release();
    return;
  }
  let held = true;
  res.once('close', () => {
    if (!held) return;
    held = false;
    release();
  });
}
