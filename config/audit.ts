import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { KeelConfig } from './schema.js';

/**
 * The audit log's vocabulary (issue 15 §5), shared by the two writers: gateways send their
 * events as `keel.audit` spans (gateway/telemetry/audit-spans.ts, turned into rows by a view
 * on otel_traces: store/audit-ddl.ts), the collector writes its own straight to `audit_log`.
 * Nothing here ever carries a client key, a provider key, a token or a hash of any of them:
 * key events name the key id only, and the config hash is over the config with every secret
 * taken out (configHash).
 */
export const AUDIT_EVENTS = [
  'config_loaded',
  'config_reloaded',
  'config_rejected',
  'key_added',
  'key_removed',
  'key_disabled',
  'key_enabled',
  'key_expiry_changed',
  'key_rotated',
  'key_changed',
  'budget_changed',
  'limit_changed',
  'weight_pinned',
  'weight_unpinned',
  'canary_step',
  'canary_rollback',
  'slo_alert_fired',
  'slo_alert_resolved',
  'leader_acquired',
  'leader_lost',
] as const;
export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** Who or what caused the event. */
export type AuditActor = 'startup' | 'file change' | 'SIGHUP' | 'admin api' | 'slo engine';

export type AuditSource = 'gateway' | 'collector';

/** One fact, before it is stamped with who/when/which config (AuditRecord). */
export interface AuditEvent {
  event: AuditEventName;
  /** What it is about: a key id, `team:search`, `route:chat`, an SLO name, `route|provider|model`. */
  subject: string;
  /** Non-secret facts (old and new values); stored as JSON text. */
  detail?: Record<string, unknown>;
}

/** An `audit_log` row, as plain data (it crosses to the gateway's span thread). */
export interface AuditRecord {
  /** ms since the epoch. */
  ts: number;
  source: AuditSource;
  instance: string;
  event: AuditEventName;
  subject: string;
  detail: string;
  config_version: number;
  config_hash: string;
  actor: AuditActor;
}

/** Span name and attributes of a gateway's audit event: a fixed shape the collector's view reads. */
export const AUDIT_SPAN = 'keel.audit';
export const AUDIT_ATTR = {
  event: 'keel.audit.event',
  subject: 'keel.audit.subject',
  detail: 'keel.audit.detail',
  instance: 'keel.audit.instance',
  actor: 'keel.audit.actor',
  configVersion: 'keel.audit.config_version',
  configHash: 'keel.audit.config_hash',
} as const;

/** Names this process in audit rows: host and pid say where it ran. */
export function auditInstance(): string {
  return `${hostname()}:${process.pid}`;
}

/** Property names whose values are secrets anywhere in keel.yaml (client keys, provider keys, tokens). */
const SECRET_NAMES = new Set(['key', 'key_sha256', 'api_key', 'token', 'admin_token', 'password', 'username']);

/** A URL with only its origin: webhook paths (Slack), query strings and user:password@ can be secrets. */
function origin(url: string): string {
  try {
    const u = new URL(url);
    // `origin` is "null" for redis:// and other non-web schemes.
    return `${u.protocol}//${u.host}`;
  } catch {
    return '<url>';
  }
}

/**
 * The config with every secret replaced by a marker: what configHash hashes. By property name
 * rather than by schema path, so a secret field added later is covered as long as it is named
 * like one; extra headers are dropped whole (they carry provider auth), URLs keep their origin.
 */
export function withoutSecrets(value: unknown, name = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutSecrets(v));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, k === 'headers' ? '<headers>' : withoutSecrets(v, k)]),
    );
  }
  if (typeof value === 'string' && SECRET_NAMES.has(name)) return '<secret>';
  if (typeof value === 'string' && (name === 'url' || name === 'base_url' || name === 'endpoint')) return origin(value);
  return value;
}

/**
 * Which config was in force, comparable across replicas and restarts: SHA-256 (first 16 hex
 * digits) of the config as validated, keys sorted, secrets out. Not a hash of the file: the file
 * (or the environment it interpolates) may hold keys, and a hash over a key is a way to test
 * guesses of it. So a key rotated alone keeps the hash; the key_rotated event records it.
 */
export function configHash(config: KeelConfig): string {
  return createHash('sha256').update(JSON.stringify(withoutSecrets(config)), 'utf8').digest('hex').slice(0, 16);
}

/** The SLO engine's side: events of its own (alerts, canaries, leadership), stamped by whoever wired it (`at`: when, ms). */
export type AuditSink = (events: AuditEvent[], at?: number) => void;

/** Where records go: the gateway's span pipeline, or the collector's batcher. Must not throw. */
export type AuditWriter = (records: AuditRecord[]) => void;

/** What stamps events: the process, and the config it runs (read at each call). */
export interface AuditStamp {
  source: AuditSource;
  instance?: string;
  /** The config in force: its version and configHash. */
  config: () => { version: number; hash: string };
}

/** A ConfigStore snapshot (or anything with a version and a config) as a stamp's config. */
export const inForce = (snap: { version: number; config: KeelConfig }): { version: number; hash: string } => ({ version: snap.version, hash: configHash(snap.config) });

/** Events → records, stamped with this process, the config in force, the actor and the time. */
export function stamp(s: AuditStamp, events: readonly AuditEvent[], actor: AuditActor, at = Date.now()): AuditRecord[] {
  const { version, hash } = s.config();
  const instance = s.instance ?? auditInstance();
  return events.map((e) => ({ ts: at, source: s.source, instance, event: e.event, subject: e.subject, detail: JSON.stringify(e.detail ?? {}), config_version: version, config_hash: hash, actor }));
}
