import { EventEmitter } from 'node:events';

/** What the pipeline reads of an abort: whether it happened and why. */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
}

const noop = (): void => undefined;

/**
 * A one-shot abort on an EventEmitter. undici takes it as a request `signal` (an
 * EventEmitter with `aborted`, `reason` and an 'abort' event), so one object serves as
 * the caller-gone flag, a hedge's cancel and the upstream request's signal.
 * Why not AbortController: creating one costs ~4 µs and each EventTarget listener ~3 µs
 * more on Node 20 (measured here: 7.4 µs vs 0.24 µs for an emitter with a listener);
 * a request made three with four listeners, about 8 % of the gateway's CPU per request.
 */
export class Abort extends EventEmitter implements AbortLike {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown = new Error('aborted')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }

  /** Calls `fn` once on abort (at once when already aborted); returns the unsubscribe. */
  onAbort(fn: () => void): () => void {
    if (this.aborted) {
      fn();
      return noop;
    }
    this.once('abort', fn);
    return () => {
      this.off('abort', fn);
    };
  }
}

/** Waits `ms`; true when the time ran out, false when `abort` fired first. */
export function sleepUnless(ms: number, abort: Abort): Promise<boolean> {
  if (abort.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(true);
    }, ms);
    const off = abort.onAbort(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
