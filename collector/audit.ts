import type { AuditRecord, AuditWriter } from '../config/audit.js';
import type { Batcher } from './batcher.js';

/** An AuditRecord as an `audit_log` row (JSONEachRow: DateTime64(3) from seconds with a fraction). */
export function auditRow(r: AuditRecord): Record<string, unknown> {
  return { ...r, ts: (r.ts / 1000).toFixed(3) };
}

/**
 * The collector's own audit events (its config reloads, SLO alerts, canary steps, leadership)
 * go through its batcher like the spans it receives: on disk in the spool before they count as
 * written, inserted under a dedup token, replayed after a crash or while ClickHouse is away. So
 * they are exactly-once on the same terms as llm_requests. A spool that refuses them (queue full,
 * failing disk) is logged: an audit event is never allowed to stop the SLO engine.
 */
export function batcherAuditWriter(batcher: Batcher, log: (msg: string) => void): AuditWriter {
  return (records) => {
    if (records.length === 0) return;
    batcher.add({ audit_log: records.map(auditRow) }).catch((err: unknown) => log(`audit: ${records.length} event(s) not recorded (${err instanceof Error ? err.message : String(err)})`));
  };
}
