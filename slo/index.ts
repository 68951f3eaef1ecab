/**
 * The SLO engine (DESIGN.md §1, slow loop): SLO specs from config, SLIs read from the
 * sli_1m rollup, error budgets and multi-window burn rates (SRE Workbook), results in
 * slo_evaluations. Alerting, adaptive weights, canaries and the status page build on this.
 */
export { effectiveSlos } from './defaults.js';
export { evaluateAll, evaluateSlo, type SloResult } from './engine.js';
export { budgetOf, burnRate, evaluate, type Counts, type Evaluation, type PairResult } from './math.js';
export { ladderThreshold, sliQuery } from './sli-query.js';
export { pairName, scaledWindows, WORKBOOK_30D, type BurnWindow, type Severity } from './windows.js';
export { AlertBook, type AlertChange, type AlertKind, type AlertState } from './alerts.js';
export { SloLoop, type SloLoopOptions, type SloSnapshot } from './loop.js';
export { Notifier } from './notify.js';
export { budgetId, budgetSpecs, evaluateBudgets, periodOf, spendOf, THRESHOLDS, type BudgetCrossing, type BudgetFired, type BudgetScope, type BudgetSpec, type SpendRow, type Threshold } from './budgets.js';
export { BudgetWatch } from './budget-watch.js';
export { buildSloServer } from './server.js';
export { describeSettings, liveSloSettings, sloSettings, type SloSettings } from './settings.js';
export { statusText, statusView, type StatusView } from './status.js';
export { recordCanaryEvents, WeightsPublisher, type WeightsSnapshotJson } from './publisher.js';
export { nextWeights, type TargetSample, type WeightChange } from './weights.js';
export { LeaseLeadership, openLeadership, SoleLeader, type Leadership, type LeadershipInfo, type SharedSnapshot } from './leader.js';
