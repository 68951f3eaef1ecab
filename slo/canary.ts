/**
 * Canary rollout with automatic rollback. A canary target's share of its route steps
 * through a schedule (e.g. 1 → 5 → 25 → 50 → 100 %); each step must hold for its
 * duration with the canary burning no more than `gate` × the baseline (or within its
 * budget); the first breach sends it to 0 % at once. Pure: the publisher feeds samples
 * and records the events.
 */
export interface CanarySpec {
  key: string;
  steps: readonly number[];
  stepMs: number;
  gate: number;
  minAttempts: number;
}

export interface CanaryState {
  key: string;
  step: number;
  stepStartedAt: number;
  status: 'progressing' | 'complete' | 'rolled_back';
  /** Why it is where it is (the last transition's reason). */
  reason: string;
}

/** What identifies a rollout: a changed schedule or gate is a new rollout, started again at step 0. */
export function specSignature(spec: CanarySpec): string {
  return JSON.stringify({ steps: spec.steps, stepMs: spec.stepMs, gate: spec.gate, minAttempts: spec.minAttempts });
}

export interface CanaryEvent {
  key: string;
  transition: 'step' | 'complete' | 'rollback';
  share: number;
  reason: string;
}

export interface CanarySample {
  canary: { total: number; bad: number };
  baseline: { total: number; bad: number };
}

export function shareOf(spec: CanarySpec, s: CanaryState): number {
  if (s.status === 'rolled_back') return 0;
  if (s.status === 'complete') return 100;
  return spec.steps[s.step] ?? 100;
}

export function startCanary(spec: CanarySpec, now: number): CanaryState {
  return { key: spec.key, step: 0, stepStartedAt: now, status: spec.steps.length === 0 || spec.steps[0] === 100 ? 'complete' : 'progressing', reason: 'rollout started' };
}

/** One evaluation of a progressing canary over the attempts since its step started. */
export function advanceCanary(spec: CanarySpec, s: CanaryState, sample: CanarySample, budget: number, now: number): { state: CanaryState; event: CanaryEvent | undefined } {
  if (s.status !== 'progressing') return { state: s, event: undefined };
  const ratio = (c: { total: number; bad: number }) => (c.total === 0 ? 0 : c.bad / c.total);
  const canaryBurn = ratio(sample.canary) / budget;
  const baselineBurn = ratio(sample.baseline) / budget;
  if (sample.canary.total >= spec.minAttempts && canaryBurn > 1 && canaryBurn > spec.gate * baselineBurn) {
    const reason = `canary burning ${canaryBurn.toFixed(1)}× its budget vs baseline ${baselineBurn.toFixed(1)}× (gate ×${spec.gate})`;
    const state: CanaryState = { ...s, status: 'rolled_back', stepStartedAt: now, reason };
    return { state, event: { key: s.key, transition: 'rollback', share: 0, reason } };
  }
  if (now - s.stepStartedAt < spec.stepMs || sample.canary.total < spec.minAttempts) return { state: s, event: undefined };
  const next = s.step + 1;
  if (next >= spec.steps.length || (spec.steps[next] ?? 100) >= 100) {
    const reason = `canary healthy through every step (burn ${canaryBurn.toFixed(1)}× vs baseline ${baselineBurn.toFixed(1)}×)`;
    const state: CanaryState = { ...s, step: spec.steps.length - 1, stepStartedAt: now, status: 'complete', reason };
    return { state, event: { key: s.key, transition: 'complete', share: 100, reason } };
  }
  const reason = `step held (burn ${canaryBurn.toFixed(1)}× vs baseline ${baselineBurn.toFixed(1)}×)`;
  const state: CanaryState = { ...s, step: next, stepStartedAt: now, reason };
  return { state, event: { key: s.key, transition: 'step', share: spec.steps[next] ?? 100, reason } };
}
