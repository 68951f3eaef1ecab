import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows, readTable } from '../store/index.js';
import type { LeadershipInfo } from './leader.js';
import type { SloSnapshot } from './loop.js';
import type { WeightsSnapshotJson } from './publisher.js';

/** What the status page and `keel slo status` show: pure data, built from the latest evaluation. */
export interface StatusView {
  at: string;
  /** The config version in force (it goes up with every accepted reload). */
  configVersion: number;
  /** Whether the engine answering leads (evaluates, notifies) or serves the leader's last results; who leads. */
  leader: boolean;
  leaderId: string | null;
  slos: {
    name: string;
    objective: number;
    window: string;
    sli: number;
    events: number;
    budgetRemaining: number;
    burn: { pair: string; severity: string; long: number; short: number; factor: number; breaching: boolean }[];
  }[];
  firing: { slo: string; kind: string; since: string }[];
  providers: { provider: string; model: string; attempts: number; successRate: number; p95TtftMs: number | null }[];
  /** The last active health check per target (last hour, probe_results); absent where the store was not read. */
  probes?: ProbeStatus[];
  /** The routing weights snapshot gateways follow: multipliers and canary shares. */
  weights: { version: string; targets: { target: string; multiplier: number | null; canaryShare: number | null }[] };
}

export function statusView(snap: SloSnapshot, providers: StatusView['providers'], weights?: WeightsSnapshotJson, configVersion = 1, leadership: LeadershipInfo = { leader: true, leaderId: undefined }): StatusView {
  const keys = [...new Set([...Object.keys(weights?.multipliers ?? {}), ...Object.keys(weights?.canaries ?? {})])].sort();
  return {
    weights: {
      version: weights?.version ?? 'static',
      targets: keys.map((target) => ({ target, multiplier: weights?.multipliers[target] ?? null, canaryShare: weights?.canaries[target] ?? null })),
    },
    at: new Date(snap.at).toISOString(),
    configVersion,
    leader: leadership.leader,
    leaderId: leadership.leaderId ?? null,
    slos: snap.results.map((r) => ({
      name: r.spec.name,
      objective: r.spec.objective,
      window: r.spec.window,
      sli: r.evaluation.sli,
      events: r.evaluation.events,
      budgetRemaining: r.evaluation.remaining,
      burn: r.evaluation.pairs.map((p) => ({ pair: p.pair, severity: p.severity, long: p.longBurn, short: p.shortBurn, factor: p.factor, breaching: p.breaching })),
    })),
    firing: snap.firing.map((a) => ({ slo: a.slo, kind: a.kind, since: new Date(a.firedAt ?? a.since).toISOString() })),
    providers,
  };
}

/** A target's last probe, and its success ratio over the conclusive probes of the last hour (null: none). */
export interface ProbeStatus {
  provider: string;
  model: string;
  outcome: string;
  errorClass: string;
  at: string;
  probes: number;
  successRatio: number | null;
}

/** The last active health check per target over the last hour, from probe_results (never from llm_attempts: probes are not requests). */
export async function probeStatus(client: ClickHouseClient, now: number): Promise<ProbeStatus[]> {
  // Aliases differ from the columns: ClickHouse would read `outcome` in countIf as the argMax of the same name.
  const rows = await queryRows<Omit<ProbeStatus, 'at' | 'outcome'> & { atMs: number; last: string }>(
    client,
    `SELECT provider, model, argMax(outcome, ts) AS last, argMax(error_class, ts) AS errorClass, toFloat64(toUnixTimestamp64Milli(max(ts))) AS atMs,
            toUInt32(count()) AS probes, if(countIf(outcome != 'inconclusive') = 0, NULL, round(countIf(outcome = 'ok') / countIf(outcome != 'inconclusive'), 4)) AS successRatio
     FROM ${readTable(client, 'probe_results')} WHERE ts >= fromUnixTimestamp64Milli({from:Int64}) GROUP BY provider, model ORDER BY provider, model`,
    { from: now - 60 * 60_000 },
  );
  return rows.map(({ atMs, last, ...r }) => ({ provider: r.provider, model: r.model, outcome: last, errorClass: r.errorClass, at: new Date(atMs).toISOString(), probes: r.probes, successRatio: r.successRatio }));
}

/** Provider health over the last five minutes, from llm_attempts. */
export async function providerHealth(client: ClickHouseClient, now: number): Promise<StatusView['providers']> {
  return queryRows<StatusView['providers'][number]>(
    client,
    `SELECT provider, model, toUInt32(count()) AS attempts, round(countIf(ok) / count(), 4) AS successRate,
            if(countIf(ttft_ms IS NOT NULL) = 0, NULL, round(quantile(0.95)(ttft_ms))) AS p95TtftMs
     FROM ${readTable(client, 'llm_attempts')} WHERE Timestamp >= fromUnixTimestamp64Milli({from:Int64}) GROUP BY provider, model ORDER BY provider, model`,
    { from: now - 5 * 60_000 },
  );
}

const pct = (x: number, digits = 2) => `${(x * 100).toFixed(digits)}%`;

function leaderLine(v: StatusView): string {
  const who = v.leaderId ?? 'unknown';
  return v.leader ? `This engine leads (${who}).` : `Follower: showing the last results of the leader ${who}.`;
}

/** The terminal table `keel slo status` prints. */
export function statusText(v: StatusView): string {
  const lines = [`SLOs at ${v.at} (config version ${v.configVersion})`, leaderLine(v), ''];
  const rows = v.slos.map((s) => [s.name, `${s.objective}% / ${s.window}`, pct(s.sli, 3), String(s.events), pct(s.budgetRemaining, 1), s.burn.map((b) => `${b.pair} ×${b.long.toFixed(1)}${b.breaching ? '!' : ''}`).join('  ')]);
  const head = ['SLO', 'objective', 'SLI', 'events', 'budget left', 'burn (long window)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  lines.push(fmt(head), fmt(widths.map((w) => '─'.repeat(w))), ...rows.map(fmt), '');
  lines.push(v.firing.length === 0 ? 'No alerts firing.' : `Firing: ${v.firing.map((f) => `${f.slo} (${f.kind}, since ${f.since})`).join('; ')}`, '');
  const probes = v.probes ?? [];
  if (probes.length > 0) lines.push(`Health checks: ${probes.map((p) => `${p.provider} ${p.model} ${p.outcome}${p.errorClass === '' ? '' : ` (${p.errorClass})`} at ${p.at}`).join('; ')}`, '');
  return lines.join('\n');
}
