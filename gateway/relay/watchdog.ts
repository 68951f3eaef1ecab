/**
 * One timer that fires a callback unless re-armed in time. Used for TTFT,
 * idle-gap, post-finish grace and body-idle deadlines; `refresh()` avoids
 * allocating a new timer per chunk on the hot path.
 */
export class Watchdog {
  #timer: NodeJS.Timeout | undefined;
  #ms = -1;
  #onFire: () => void = () => undefined;
  #paused = false;

  arm(ms: number, onFire: () => void): void {
    this.#onFire = onFire;
    this.#paused = false;
    if (this.#timer !== undefined && ms === this.#ms) {
      // Also revives a timer that fired while paused: still no allocation.
      this.#timer.refresh();
      return;
    }
    this.cancel();
    this.#ms = ms;
    this.#timer = setTimeout(() => {
      if (!this.#paused) this.#onFire();
    }, ms);
    this.#timer.unref();
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
}
