import type { Severity } from './windows.js';

/**
 * Alert state per SLO and severity: inactive → pending → firing → (resolved) inactive.
 * A condition must hold for `pendingMs` before it fires, so one bad evaluation does not
 * page; it resolves as soon as the condition clears (the short window makes that quick).
 * Pure: the engine feeds conditions and gets transitions back.
 */
export type AlertKind = Severity | 'absent';
export type Transition = 'pending' | 'firing' | 'resolved';

export interface AlertState {
  slo: string;
  kind: AlertKind;
  state: 'inactive' | 'pending' | 'firing';
  /** When the condition started holding (pending) or the alert fired. */
  since: number;
  firedAt: number | undefined;
}

export interface AlertChange {
  alert: AlertState;
  transition: Transition;
  at: number;
}

export class AlertBook {
  readonly #alerts = new Map<string, AlertState>();
  /** Read at each update, so a reload of `pending_s` applies to the next evaluation. */
  readonly #pendingMs: () => number;

  constructor(pendingMs: () => number) {
    this.#pendingMs = pendingMs;
  }

  /** Feeds one evaluation's conditions for an SLO; returns what changed. */
  update(slo: string, conditions: Record<AlertKind, boolean>, now: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const [kind, holds] of Object.entries(conditions) as [AlertKind, boolean][]) {
      const key = `${slo}|${kind}`;
      const a = this.#alerts.get(key) ?? { slo, kind, state: 'inactive', since: now, firedAt: undefined };
      this.#alerts.set(key, a);
      if (holds && a.state === 'inactive') {
        a.state = 'pending';
        a.since = now;
        changes.push({ alert: { ...a }, transition: 'pending', at: now });
      }
      if (holds && a.state === 'pending' && now - a.since >= this.#pendingMs()) {
        a.state = 'firing';
        a.firedAt = now;
        changes.push({ alert: { ...a }, transition: 'firing', at: now });
      }
      if (!holds && a.state !== 'inactive') {
        const wasFiring = a.state === 'firing';
        a.state = 'inactive';
        if (wasFiring) changes.push({ alert: { ...a }, transition: 'resolved', at: now });
        a.firedAt = undefined;
      }
    }
    return changes;
  }

  /** An SLO is no longer configured: its alerts end (a firing one resolves) and are forgotten. */
  retire(slo: string, now: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const [key, a] of this.#alerts) {
      if (a.slo !== slo) continue;
      if (a.state === 'firing') changes.push({ alert: { ...a, state: 'inactive' }, transition: 'resolved', at: now });
      this.#alerts.delete(key);
    }
    return changes;
  }

  /** Pending and firing alerts, as a new leader needs them to carry on (SharedSnapshot). */
  active(): AlertState[] {
    return [...this.#alerts.values()].filter((a) => a.state !== 'inactive').map((a) => ({ ...a }));
  }

  /**
   * Takes over alerts another engine had pending or firing, with their original times: the next
   * update sees them already firing (no second page) and a resolve carries the same startsAt.
   */
  adopt(alerts: readonly AlertState[]): void {
    for (const a of alerts) if (a.state !== 'inactive') this.#alerts.set(`${a.slo}|${a.kind}`, { ...a });
  }

  /** Forgets every alert (leadership lost: whoever leads now owns them). */
  clear(): void {
    this.#alerts.clear();
  }

  firing(): AlertState[] {
    return [...this.#alerts.values()].filter((a) => a.state === 'firing').map((a) => ({ ...a }));
  }
}
