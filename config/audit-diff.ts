import type { ConfigError } from './errors.js';
import type { ClientKeyConfig, Principal } from './governance-schema.js';
import type { KeelConfig } from './schema.js';
import type { ConfigSnapshot, ConfigStore } from './store.js';
import { inForce, stamp, type AuditActor, type AuditEvent, type AuditEventName, type AuditStamp, type AuditWriter } from './audit.js';

/**
 * What a reload changed that an auditor asks about, from two validated configs (pure: no
 * servers, no clock). Keys are matched by id; a key's secret (`key` / `key_sha256`) is compared
 * but never put in an event, so a rotation says only that it happened.
 */
export function diffConfigs(prev: KeelConfig, next: KeelConfig): AuditEvent[] {
  return [...keyEvents(prev, next), ...principalEvents(prev, next), ...routeEvents(prev, next), ...pinEvents(prev, next)];
}

/** Which process records which events: the gateway enforces keys, budgets and limits; the SLO engine (in the collector) pins. */
export const GATEWAY_DIFF: ReadonlySet<AuditEventName> = new Set(['key_added', 'key_removed', 'key_disabled', 'key_enabled', 'key_expiry_changed', 'key_rotated', 'key_changed', 'budget_changed', 'limit_changed']);
export const COLLECTOR_DIFF: ReadonlySet<AuditEventName> = new Set(['weight_pinned', 'weight_unpinned']);

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** A key as an auditor may see it: everything but its secret. */
function publicKey(k: ClientKeyConfig): Record<string, unknown> {
  const { key: _key, key_sha256: _hash, ...rest } = k;
  return rest;
}

const secretOf = (k: ClientKeyConfig) => k.key ?? k.key_sha256;

/** Fields compared one by one; budgets, limits and the disabled flag and expiry have events of their own. */
const SCOPE_FIELDS = ['team', 'customer', 'routes', 'guardrails', 'metadata'] as const;

function keyEvents(prev: KeelConfig, next: KeelConfig): AuditEvent[] {
  const before = new Map((prev.auth?.keys ?? []).map((k) => [k.id, k]));
  const after = new Map((next.auth?.keys ?? []).map((k) => [k.id, k]));
  const out: AuditEvent[] = [];
  for (const id of before.keys()) if (!after.has(id)) out.push({ event: 'key_removed', subject: id });
  for (const [id, b] of after) {
    const a = before.get(id);
    if (a === undefined) {
      out.push({ event: 'key_added', subject: id, detail: publicKey(b) });
      continue;
    }
    if (a.disabled !== b.disabled) out.push({ event: b.disabled ? 'key_disabled' : 'key_enabled', subject: id });
    if (a.expires_at !== b.expires_at) out.push({ event: 'key_expiry_changed', subject: id, detail: { from: a.expires_at ?? null, to: b.expires_at ?? null } });
    if (secretOf(a) !== secretOf(b)) out.push({ event: 'key_rotated', subject: id });
    const changed = SCOPE_FIELDS.filter((f) => !same(a[f], b[f]));
    if (changed.length > 0) out.push({ event: 'key_changed', subject: id, detail: Object.fromEntries(changed.map((f) => [f, { from: a[f] ?? null, to: b[f] ?? null }])) });
    out.push(...budgetAndLimit(`key:${id}`, a, b));
  }
  return out;
}

function budgetAndLimit(subject: string, a: Pick<Principal, 'budgets' | 'limits'>, b: Pick<Principal, 'budgets' | 'limits'>): AuditEvent[] {
  const out: AuditEvent[] = [];
  if (!same(a.budgets, b.budgets)) out.push({ event: 'budget_changed', subject, detail: { from: a.budgets, to: b.budgets } });
  if (!same(a.limits, b.limits)) out.push({ event: 'limit_changed', subject, detail: { from: a.limits ?? null, to: b.limits ?? null } });
  return out;
}

const NONE: Principal = { budgets: [] };

/** Teams and customers: one that appears or goes is a change from or to no budgets and no limits. */
function principalEvents(prev: KeelConfig, next: KeelConfig): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const kind of ['teams', 'customers'] as const) {
    const a = prev.auth?.[kind] ?? {};
    const b = next.auth?.[kind] ?? {};
    const label = kind === 'teams' ? 'team' : 'customer';
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) out.push(...budgetAndLimit(`${label}:${name}`, a[name] ?? NONE, b[name] ?? NONE));
  }
  return out;
}

/** Route limits (over every key); a route added or removed is not a limit change unless it has limits. */
function routeEvents(prev: KeelConfig, next: KeelConfig): AuditEvent[] {
  const out: AuditEvent[] = [];
  for (const name of new Set([...Object.keys(prev.routes), ...Object.keys(next.routes)])) {
    const a = prev.routes[name]?.limits;
    const b = next.routes[name]?.limits;
    if (!same(a, b)) out.push({ event: 'limit_changed', subject: `route:${name}`, detail: { from: a ?? null, to: b ?? null } });
  }
  return out;
}

/** Operator weight pins (`slo.adaptive.pins`): the SLO engine's fixed multipliers per target. */
function pinEvents(prev: KeelConfig, next: KeelConfig): AuditEvent[] {
  const a = prev.slo.adaptive.pins;
  const b = next.slo.adaptive.pins;
  const out: AuditEvent[] = [];
  for (const target of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const from = a[target];
    const to = b[target];
    if (from === to) continue;
    out.push(to === undefined ? { event: 'weight_unpinned', subject: target, detail: { from } } : { event: 'weight_pinned', subject: target, detail: { from: from ?? null, to } });
  }
  return out;
}

/** A snapshot's actor, as the audit log names it (the first one is the process starting). */
const actorOf = (snap: ConfigSnapshot): AuditActor => snap.actor;

/**
 * Audits a ConfigStore for its life: `config_loaded` now, then per accepted reload
 * `config_reloaded` and the diff events this process owns (`owns`), per rejected one
 * `config_rejected` (with the issue paths, not their messages or values). Returns the unsubscribe.
 */
export function auditConfig(store: ConfigStore, s: Omit<AuditStamp, 'config'>, owns: ReadonlySet<AuditEventName>, write: AuditWriter): () => void {
  const first = store.current;
  const of = (snap: ConfigSnapshot): AuditStamp => ({ ...s, config: () => inForce(snap) });
  write(stamp(of(first), [{ event: 'config_loaded', subject: first.source }], actorOf(first), first.loadedAt));
  let prev = first;
  const offChange = store.onChange((next) => {
    const diff = diffConfigs(prev.config, next.config).filter((e) => owns.has(e.event));
    const reloaded: AuditEvent = { event: 'config_reloaded', subject: next.source, detail: { from_version: prev.version, changes: diff.length } };
    prev = next;
    write(stamp(of(next), [reloaded, ...diff], actorOf(next), next.loadedAt));
  });
  const offError = store.onError((err: ConfigError, actor: AuditActor) => {
    const issues = err.issues.map((i) => (i.line > 0 ? `${i.path} (line ${i.line})` : i.path));
    write(stamp(of(store.current), [{ event: 'config_rejected', subject: store.current.source, detail: { kept_version: store.current.version, issues } }], actor));
  });
  return () => {
    offChange();
    offError();
  };
}
