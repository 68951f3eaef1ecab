import { performance } from 'node:perf_hooks';

/**
 * One timer that fires a callback unless re-armed in time. Used for TTFT, idle-gap,
 * post-finish grace and body-idle deadlines. A stream re-arms on every chunk, so re-arming
 * with the same delay only moves a deadline (one clock read); the timer, when it comes due
 * before that deadline, sleeps again for what is left. A profile of a 50-token stream had
 * the per-chunk `refresh()` (a timer-list re-insert) at ~1.5 % of the gateway's CPU.
 */
export class Watchdog {
  #timer: NodeJS.Timeout | undefined;
  #ms = -1;
  /** performance.now() past which the callback is due. */
  #deadline = 0;
  #onFire: () => void = () => undefined;
  #paused = false;

  arm(ms: number, onFire: () => void): void {
    this.#onFire = onFire;
    this.#paused = false;
    if (this.#timer !== undefined && ms === this.#ms) {
      this.#deadline = performance.now() + ms;
      return;
    }
    this.cancel();
    this.#ms = ms;
    this.#deadline = performance.now() + ms;
    this.#schedule(ms);
  }

  /**
   * Stops the clock while Keel waits on someone other than the peer it watches (a relay
   * blocked on a slow caller is not provider silence). The next `arm` restarts it in full.
   * A flag, not a clearTimeout: pausing per blocked write must not allocate a timer each time.
   */
  pause(): void {
    this.#paused = true;
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ms = -1;
    this.#paused = false;
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(this.#due, ms);
    this.#timer.unref();
  }

  readonly #due = (): void => {
    this.#timer = undefined;
    const left = this.#deadline - performance.now();
    // Timers run on the loop's cached clock and may come due a little early: under 1 ms is due.
    if (left >= 1) {
      this.#schedule(Math.ceil(left));
      return;
    }
    // Fired while paused: nothing happens, and the next arm starts a new timer.
    if (!this.#paused) this.#onFire();
  };
}
