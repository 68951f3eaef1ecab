import type { AdaptiveConfig } from '../config/slo-schema.js';

/** One target's recent attempts, from llm_attempts. `bad` counts only failures the target is answerable for. */
export interface TargetSample {
  key: string;
  short: { total: number; bad: number };
  long: { total: number; bad: number };
}

export interface WeightChange {
  key: string;
  from: number;
  to: number;
  reason: string;
}

/**
 * Adaptive multipliers from each target's own burn rate against its route's error
 * budget. The target value is 1 while the target burns at most its budget, else
 * 1/burn (a target failing at 5× the budget gets a fifth of its traffic), never under
 * `floor`. Burn is the lesser of the short and long windows, as in multi-window
 * alerting: one bad minute does not move weights, and a recovery shows within the
 * short window. Drops apply at once (protect callers); climbs are capped per cycle;
 * changes under `hysteresis` are ignored; pins win over everything.
 */
export function nextWeights(prev: ReadonlyMap<string, number>, samples: readonly TargetSample[], budgetOf: (key: string) => number, cfg: AdaptiveConfig): { next: Map<string, number>; changes: WeightChange[] } {
  const next = new Map(prev);
  const changes: WeightChange[] = [];
  const set = (key: string, to: number, reason: string) => {
    const from = prev.get(key) ?? 1;
    if (Math.abs(to - from) < 1e-9) return;
    next.set(key, to);
    changes.push({ key, from, to, reason });
  };
  for (const s of samples) {
    const pin = cfg.pins[s.key];
    if (pin !== undefined) {
      set(s.key, pin, 'pinned by the operator');
      continue;
    }
    const from = prev.get(s.key) ?? 1;
    if (s.short.total < cfg.min_attempts) continue;
    const budget = budgetOf(s.key);
    const burn = Math.min(s.short.bad / s.short.total, s.long.total === 0 ? 0 : s.long.bad / s.long.total) / budget;
    const target = burn <= 1 ? 1 : Math.max(cfg.floor, 1 / burn);
    if (Math.abs(target - from) < cfg.hysteresis && target !== 1) continue;
    if (target < from) set(s.key, target, `burning ${burn.toFixed(1)}× its error budget`);
    else if (target > from) set(s.key, Math.min(target, from + cfg.max_step), burn <= 1 ? 'within its error budget again' : `burn down to ${burn.toFixed(1)}×`);
  }
  return { next, changes };
}
