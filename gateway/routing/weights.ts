/**
 * Externally computed weight multipliers (the SLO engine publishes them):
 * an immutable, versioned snapshot swapped atomically. Requests read `current`
 * once and record the version they used.
 */
export interface WeightsSnapshot {
  readonly version: string;
  /** Multiplier per target key `route|provider|model`; absent means 1. */
  readonly multipliers: ReadonlyMap<string, number>;
  /** Canary targets' current share of their route, percent (absent: the first step). */
  readonly canaries: ReadonlyMap<string, number>;
}

export const NO_WEIGHTS: WeightsSnapshot = Object.freeze({ version: 'static', multipliers: new Map<string, number>(), canaries: new Map<string, number>() });

export class WeightsStore {
  #current: WeightsSnapshot = NO_WEIGHTS;

  get current(): WeightsSnapshot {
    return this.#current;
  }

  swap(next: WeightsSnapshot): void {
    this.#current = Object.freeze({ version: next.version, multipliers: new Map(next.multipliers), canaries: new Map(next.canaries) });
  }
}

export function weightKey(route: string, provider: string, model: string): string {
  return `${route}|${provider}|${model}`;
}
