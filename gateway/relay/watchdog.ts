/**
 * One timer that fires a callback unless re-armed in time. Used for TTFT,
 * idle-gap and post-finish grace deadlines; `refresh()` avoids allocating a new
 * timer per chunk on the hot path.
 */
export class Watchdog {
  #timer: NodeJS.Timeout | undefined;
  #ms = -1;
  #onFire: () => void = () => undefined;

  arm(ms: number, onFire: () => void): void {
    this.#onFire = onFire;
    if (this.#timer !== undefined && ms === this.#ms) {
      this.#timer.refresh();
      return;
    }
    this.cancel();
    this.#ms = ms;
    this.#timer = setTimeout(() => this.#onFire(), ms);
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ms = -1;
  }
}
