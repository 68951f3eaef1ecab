/**
 * A target's recent samples for routing rules (gateway/routing/rules.ts): TTFT and outcomes,
 * the last SAMPLES of the last WINDOW_MS. The time bound matters: a rule that moved traffic off
 * a target stops seeing fresh samples from it, and once its old ones age out the rule no longer
 * holds, so the target gets traffic again and is judged anew (a probe, as a half-open breaker).
 */
export const SAMPLES = 50;
export const WINDOW_MS = 60_000;

/** What rules read of one target. */
export interface TargetStats {
  /** Recent TTFT samples, ms (streams: first token; non-streams: the whole answer). */
  ttftMs: readonly number[];
  /** Recent outcomes that judge the target (successes and provider failures) and how many failed. */
  outcomes: number;
  failures: number;
}

interface Sample {
  at: number;
  value: number;
}

function push(list: Sample[], at: number, value: number): void {
  list.push({ at, value });
  if (list.length > SAMPLES) list.shift();
}

function fresh(list: readonly Sample[], now: number): Sample[] {
  return list.filter((s) => s.at > now - WINDOW_MS);
}

export class TargetWindow {
  readonly #ttft: Sample[] = [];
  readonly #outcomes: Sample[] = [];
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  ttft(ms: number): void {
    push(this.#ttft, this.#now(), ms);
  }

  outcome(failed: boolean): void {
    push(this.#outcomes, this.#now(), failed ? 1 : 0);
  }

  stats(): TargetStats {
    const now = this.#now();
    const outcomes = fresh(this.#outcomes, now);
    return { ttftMs: fresh(this.#ttft, now).map((s) => s.value), outcomes: outcomes.length, failures: outcomes.reduce((n, s) => n + s.value, 0) };
  }
}
