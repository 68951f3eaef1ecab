/**
 * Multi-window, multi-burn-rate alerting (SRE Workbook ch. 5; standards.md §5): each
 * pair fires when both its long and its short window burn faster than `factor`.
 * Defined for a 30-day period and scaled to others (as Pyrra does), rounded to the
 * minute; the factor stays, since budget share = factor × long / period is unchanged.
 */
export type Severity = 'page' | 'ticket';

export interface BurnWindow {
  severity: Severity;
  longMs: number;
  shortMs: number;
  factor: number;
}

const M = 60_000;
const H = 60 * M;
const D = 24 * H;
const BASE_PERIOD = 30 * D;

export const WORKBOOK_30D: readonly BurnWindow[] = [
  { severity: 'page', longMs: 1 * H, shortMs: 5 * M, factor: 14.4 },
  { severity: 'page', longMs: 6 * H, shortMs: 30 * M, factor: 6 },
  { severity: 'ticket', longMs: 1 * D, shortMs: 2 * H, factor: 3 },
  { severity: 'ticket', longMs: 3 * D, shortMs: 6 * H, factor: 1 },
];

export function scaledWindows(periodMs: number): BurnWindow[] {
  const scale = (ms: number) => Math.max(M, Math.round((ms * periodMs) / BASE_PERIOD / M) * M);
  return WORKBOOK_30D.map((w) => ({ ...w, longMs: scale(w.longMs), shortMs: scale(w.shortMs) }));
}

/** `1h/5m`: how a pair is named in results, alerts and rules. */
export function pairName(w: BurnWindow): string {
  return `${shortDuration(w.longMs)}/${shortDuration(w.shortMs)}`;
}

export function shortDuration(ms: number): string {
  if (ms % D === 0) return `${ms / D}d`;
  if (ms % H === 0) return `${ms / H}h`;
  return `${Math.round(ms / M)}m`;
}
