/**
 * Ids by when they stop answering, soonest first: a binary min-heap, O(log n) a push and a pop.
 * The semantic index evicts a partition's soonest-to-expire vector when it is over its bound, and
 * finding that one by scanning every vector cost ~2.8 ms an insert at 200,000 (cache.max_vectors
 * default) on the request thread. Removal is lazy: an id removed or re-added elsewhere stays
 * here until it surfaces, and the owner's `current` says whether a surfaced pair still holds.
 */
export class ExpiryQueue {
  #at: number[] = [];
  #ids: string[] = [];

  get length(): number {
    return this.#ids.length;
  }

  push(id: string, untilMs: number): void {
    this.#at.push(untilMs);
    this.#ids.push(id);
    this.#up(this.#ids.length - 1);
  }

  /** Removes and returns the soonest pair that `current` still accepts; pairs it rejects are dropped on the way. */
  pop(current: (id: string, untilMs: number) => boolean): string | undefined {
    while (this.#ids.length > 0) {
      const id = this.#ids[0] ?? '';
      const at = this.#at[0] ?? 0;
      this.#removeTop();
      if (current(id, at)) return id;
    }
    return undefined;
  }

  /** Rebuilds from the live pairs alone (when lazy removals have left more dead pairs than live ones). */
  rebuild(live: Iterable<[string, number]>): void {
    this.#at = [];
    this.#ids = [];
    for (const [id, at] of live) this.push(id, at);
  }

  #removeTop(): void {
    const lastAt = this.#at.pop() ?? 0;
    const lastId = this.#ids.pop() ?? '';
    if (this.#ids.length === 0) return;
    this.#at[0] = lastAt;
    this.#ids[0] = lastId;
    this.#down(0);
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#at[parent] ?? 0) <= (this.#at[i] ?? 0)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#ids.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let least = i;
      if (l < n && (this.#at[l] ?? 0) < (this.#at[least] ?? 0)) least = l;
      if (r < n && (this.#at[r] ?? 0) < (this.#at[least] ?? 0)) least = r;
      if (least === i) return;
      this.#swap(i, least);
      i = least;
    }
  }

  #swap(i: number, j: number): void {
    const at = this.#at[i] ?? 0;
    this.#at[i] = this.#at[j] ?? 0;
    this.#at[j] = at;
    const id = this.#ids[i] ?? '';
    this.#ids[i] = this.#ids[j] ?? '';
    this.#ids[j] = id;
  }
}
