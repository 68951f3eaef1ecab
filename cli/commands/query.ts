import { layoutOf, openStore, queryText, tableFor } from '../../store/index.js';
import type { CommonFlags } from '../args.js';
import { readFileSync } from 'node:fs';
import type { TelemetryConfig } from '../../config/telemetry-schema.js';
import { collectorFile, queryTokenFile, telemetryConfig } from './collector.js';

function runningCollector(cfg: TelemetryConfig): string | undefined {
  try {
    return (JSON.parse(readFileSync(collectorFile(cfg), 'utf8')) as { url?: string }).url;
  } catch {
    return undefined;
  }
}

/** /query always needs a token: the configured one, else the one the running collector wrote for this user. */
function queryToken(cfg: TelemetryConfig): string | undefined {
  if (cfg.collector.token !== undefined) return cfg.collector.token;
  try {
    return readFileSync(queryTokenFile(cfg), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Rows `keel query audit` shows by default. */
const AUDIT_ROWS = 50;

/**
 * `keel query audit [N]`: the newest N audit_log rows (default 50), newest first; `audit_log_all`
 * on a sharded store (every shard's rows). Anything else is SQL as given.
 */
export function querySql(positionals: readonly string[], cfg: TelemetryConfig): string {
  const [first, ...rest] = positionals;
  if (first !== 'audit' || rest.length > 1 || (rest[0] !== undefined && !/^\d+$/.test(rest[0]))) return positionals.join(' ').trim();
  const limit = rest[0] === undefined ? AUDIT_ROWS : Number(rest[0]);
  return `SELECT ts, source, instance, event, subject, actor, config_version, config_hash, detail FROM ${tableFor('audit_log', layoutOf(cfg.store))} ORDER BY ts DESC, event LIMIT ${limit}`;
}

/**
 * `keel query "SQL"`: read-only SQL over Keel's ClickHouse. The embedded folder
 * belongs to the running collector (chDB binds one folder per process), so the
 * query goes to it; with none running, the folder is opened here.
 */
export async function query(flags: CommonFlags): Promise<number> {
  const cfg = telemetryConfig(flags);
  const sql = querySql(flags.positionals, cfg);
  if (sql === '') {
    process.stderr.write('keel query: give the SQL to run, e.g. keel query "SELECT route, count() FROM llm_requests GROUP BY route"\n');
    return 2;
  }
  const url = runningCollector(cfg) ?? `http://${cfg.collector.host === '0.0.0.0' ? '127.0.0.1' : cfg.collector.host}:${flags.collectorPort ?? cfg.collector.port}`;
  try {
    const token = queryToken(cfg);
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const res = await fetch(`${url}/query`, { method: 'POST', body: sql, headers, signal: AbortSignal.timeout(60_000) });
    const text = await res.text();
    (res.ok ? process.stdout : process.stderr).write(res.ok ? text : `keel query: ${text}`);
    return res.ok ? 0 : 1;
  } catch {
    // No collector running: read the store directly.
  }
  let store;
  try {
    store = openStore(cfg.store);
  } catch (err) {
    process.stderr.write(`keel query: cannot open ${cfg.store.path} (${err instanceof Error ? err.message : String(err)}). Is a collector using it on another port? Pass --collector-port.\n`);
    return 1;
  }
  try {
    process.stdout.write(await queryText(store.reader(), sql));
    return 0;
  } catch (err) {
    process.stderr.write(`keel query: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await store.close();
  }
}
