import type { ClickHouseClient } from '@clickhouse/client';
import { insertRows, queryRows } from './client.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type TtlDays = Record<'traces' | 'metrics' | 'requests' | 'sli', number>;

/** `{ttl:family:expr}` → a TTL clause (or nothing for 0 = keep forever), as the exporter writes it. */
export function applyTtl(sql: string, ttl: TtlDays): string {
  return sql.replace(/\{ttl:(\w+):([^}]+)\}/g, (_m, family: string, expr: string) => {
    const days = ttl[family as keyof TtlDays];
    if (days === undefined) throw new Error(`migration names unknown TTL family ${family}`);
    return days > 0 ? `TTL ${expr} + toIntervalDay(${days})` : '';
  });
}

const LEDGER = `CREATE TABLE IF NOT EXISTS keel_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version`;

/**
 * Applies the migrations this store has not seen, in order, and records each.
 * `onStep` reports progress (the CLI prints it). Returns the versions applied.
 */
export async function migrate(client: ClickHouseClient, ttl: TtlDays, onStep: (m: Migration) => void = () => undefined, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await client.command({ query: LEDGER });
  const done = new Set((await queryRows<{ version: number }>(client, 'SELECT version FROM keel_migrations')).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    onStep(m);
    for (const sql of m.statements) await client.command({ query: applyTtl(sql, ttl) });
    await insertRows(client, 'keel_migrations', [{ version: m.version, name: m.name }]);
    applied.push(m.version);
  }
  return applied;
}
