import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configHash, stamp, withoutSecrets, type AuditRecord } from '../../config/audit.js';
import { auditConfig, COLLECTOR_DIFF, diffConfigs, GATEWAY_DIFF } from '../../config/audit-diff.js';
import { ConfigStore, loadConfigText, type KeelConfig } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';

const KEY_A = 'alpha-key-0123456789abcdefghij';
const KEY_B = 'bravo-key-0123456789abcdefghij';
const KEY_C = 'charlie-key-0123456789abcdefgh';

interface Shape {
  /** Extra fields of key `a` (flow mapping entries). */
  a?: string;
  keyA?: string;
  keyTeam?: string;
  withB?: boolean;
  withC?: boolean;
  team?: string;
  routeLimits?: string;
  pins?: string;
}

function yaml(s: Shape = {}): string {
  return [
    'providers:',
    '  p: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", api_key: provider-secret-0123456789abcdef }',
    'routes:',
    `  chat: { targets: [{ provider: p, model: m }]${s.routeLimits === undefined ? '' : `, limits: ${s.routeLimits}`} }`,
    'auth:',
    '  keys:',
    `    - { id: a, key: ${s.keyA ?? KEY_A}, team: ${s.keyTeam ?? 'search'}${s.a === undefined ? '' : `, ${s.a}`} }`,
    ...(s.withB === false ? [] : [`    - { id: b, key: ${KEY_B}, budgets: [{ usd: 10 }] }`]),
    ...(s.withC === true ? [`    - { id: c, key: ${KEY_C}, customer: acme }`] : []),
    '  teams:',
    `    search: ${s.team ?? '{ budgets: [{ usd: 100 }] }'}`,
    ...(s.pins === undefined ? [] : ['slo:', '  adaptive:', `    pins: ${s.pins}`]),
    '',
  ].join('\n');
}

const load = (s: Shape = {}): KeelConfig => loadConfigText(yaml(s), 'keel.yaml', { ...providerRules, env: {} });
const events = (a: Shape, b: Shape) => diffConfigs(load(a), load(b));
const secrets = [KEY_A, KEY_B, KEY_C, 'provider-secret-0123456789abcdef'];

describe('diffConfigs (two config snapshots → audit events)', () => {
  it('the same config makes no events', () => {
    expect(events({}, {})).toEqual([]);
  });

  it('keys added and removed, by id', () => {
    const e = events({}, { withB: false, withC: true });
    expect(e.map((x) => [x.event, x.subject])).toEqual([
      ['key_removed', 'b'],
      ['key_added', 'c'],
    ]);
    expect(e[1]?.detail).toMatchObject({ id: 'c', customer: 'acme', disabled: false });
  });

  it('disabled and enabled, expiry changed, rotated: the key itself is never in an event', () => {
    const e = [...events({}, { a: 'disabled: true' }), ...events({ a: 'disabled: true' }, {}), ...events({}, { a: 'expires_at: "2027-01-01T00:00:00Z"' }), ...events({}, { keyA: 'alpha-key-rotated-0123456789abcd' })];
    expect(e.map((x) => [x.event, x.subject])).toEqual([
      ['key_disabled', 'a'],
      ['key_enabled', 'a'],
      ['key_expiry_changed', 'a'],
      ['key_rotated', 'a'],
    ]);
    expect(e[2]?.detail).toEqual({ from: null, to: '2027-01-01T00:00:00Z' });
    const text = JSON.stringify([e, events({}, { withC: true })]);
    for (const s of [...secrets, 'alpha-key-rotated-0123456789abcd']) expect(text).not.toContain(s);
    expect(text).not.toContain('key_sha256');
  });

  it("a key's team, routes and budgets; a team's budgets; route limits", () => {
    const e = events({}, { keyTeam: 'ads', a: 'budgets: [{ usd: 5, period: day }], limits: { rpm: 60 }', team: '{ budgets: [{ usd: 200 }], limits: { tpm: 1000 } }', routeLimits: '{ rpm: 600 }' });
    expect(e.map((x) => [x.event, x.subject])).toEqual([
      ['key_changed', 'a'],
      ['budget_changed', 'key:a'],
      ['limit_changed', 'key:a'],
      ['budget_changed', 'team:search'],
      ['limit_changed', 'team:search'],
      ['limit_changed', 'route:chat'],
    ]);
    expect(e[0]?.detail).toEqual({ team: { from: 'search', to: 'ads' } });
    expect(e[1]?.detail).toEqual({ from: [], to: [{ usd: 5, period: 'day', window: 'calendar' }] });
    expect(e[5]?.detail).toEqual({ from: null, to: { rpm: 600, burst_s: 1 } });
  });

  it('weight pins set, changed and removed', () => {
    const e = [...events({}, { pins: '{ "chat|p|m": 0 }' }), ...events({ pins: '{ "chat|p|m": 0 }' }, { pins: '{ "chat|p|m": 0.5 }' }), ...events({ pins: '{ "chat|p|m": 0.5 }' }, {})];
    expect(e).toEqual([
      { event: 'weight_pinned', subject: 'chat|p|m', detail: { from: null, to: 0 } },
      { event: 'weight_pinned', subject: 'chat|p|m', detail: { from: 0, to: 0.5 } },
      { event: 'weight_unpinned', subject: 'chat|p|m', detail: { from: 0.5 } },
    ]);
    // The gateway records key, budget and limit events; the SLO engine (collector) the pins.
    expect(e.every((x) => COLLECTOR_DIFF.has(x.event) && !GATEWAY_DIFF.has(x.event))).toBe(true);
  });
});

describe('configHash', () => {
  it('follows the config but not its secrets, and contains none of them', () => {
    const base = configHash(load());
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(configHash(load({ keyA: 'alpha-key-rotated-0123456789abcd' }))).toBe(base);
    expect(configHash(load({ a: 'disabled: true' }))).not.toBe(base);
    const text = JSON.stringify(withoutSecrets(load()));
    for (const s of secrets) expect(text).not.toContain(s);
    expect(withoutSecrets({ state: { redis: { url: 'redis://user:pw@cache:6379/0' } }, alerting: { url: 'https://hooks.slack.com/services/T/B/SECRET' } })).toEqual({ alerting: { url: 'https://hooks.slack.com' }, state: { redis: { url: 'redis://cache:6379' } } });
  });
});

describe('auditConfig (a ConfigStore audited for its life)', () => {
  it('config_loaded at start; per reload config_reloaded and the events this process owns, with the actor', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-audit-diff-'));
    const file = join(dir, 'keel.yaml');
    writeFileSync(file, yaml());
    const store = ConfigStore.fromFile(file, { ...providerRules, env: {} });
    const rows: AuditRecord[] = [];
    const off = auditConfig(store, { source: 'gateway', instance: 'gw-1' }, GATEWAY_DIFF, (r) => rows.push(...r));
    writeFileSync(file, yaml({ a: 'disabled: true', pins: '{ "chat|p|m": 0 }' }));
    store.reload('SIGHUP');
    writeFileSync(file, 'routes: [');
    store.reload('file change');
    off();
    store.close();
    expect(rows.map((r) => [r.event, r.subject, r.actor, r.config_version])).toEqual([
      ['config_loaded', file, 'startup', 1],
      ['config_reloaded', file, 'SIGHUP', 2],
      ['key_disabled', 'a', 'SIGHUP', 2],
      ['config_rejected', file, 'file change', 2],
    ]);
    expect(rows[1]?.config_hash).not.toBe(rows[0]?.config_hash);
    expect(JSON.parse(rows[1]?.detail ?? '')).toEqual({ from_version: 1, changes: 1 });
    expect(JSON.parse(rows[3]?.detail ?? '')).toMatchObject({ kept_version: 2 });
    for (const s of secrets) expect(JSON.stringify(rows)).not.toContain(s);
  });

  it('stamp: who, when and which config', () => {
    const [r] = stamp({ source: 'collector', instance: 'c-1', config: () => ({ version: 7, hash: 'h' }) }, [{ event: 'leader_acquired', subject: 'engine' }], 'slo engine', 1_700_000_000_123);
    expect(r).toEqual({ ts: 1_700_000_000_123, source: 'collector', instance: 'c-1', event: 'leader_acquired', subject: 'engine', detail: '{}', config_version: 7, config_hash: 'h', actor: 'slo engine' });
  });
});
