import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollector } from '../../collector/index.js';
import { insertRows, LOCK_TABLE, migrate, MigrationLockError, MIGRATIONS, openStore, queryRows, SchemaTooNewError, type Migration, type Store } from '../../store/index.js';

const TTL = { traces: 7, metrics: 7, requests: 30, sli: 400 };
const KNOWN = Math.max(...MIGRATIONS.map((m) => m.version));
const probe = (version: number, statements: string[]): Migration => ({ version, name: `probe ${version}`, statements });

describe('migrations from several processes at once, and a store newer than this Keel', () => {
  let dir: string;
  let store: Store;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'keel-migrate-'));
    store = openStore({ path: join(dir, 'data'), database: 'default' });
  });
  afterAll(() => store.close());

  const ledger = async () => (await queryRows<{ version: number }>(store.client, 'SELECT version FROM keel_migrations ORDER BY version')).map((r) => Number(r.version));
  const lockHeld = async () => Number((await queryRows<{ result: number }>(store.client, `EXISTS TABLE ${LOCK_TABLE}`))[0]?.result) === 1;

  it('two migrate() calls at once on a fresh store: every migration applied once, one ledger row each, neither fails', async () => {
    const steps: number[] = [];
    // Two clients on the one store, as two collectors would have.
    const results = await Promise.all([
      migrate(store.client, TTL, (m) => steps.push(m.version), { pollMs: 20 }),
      migrate(store.reader(), TTL, (m) => steps.push(m.version), { pollMs: 20 }),
    ]);
    const all = MIGRATIONS.map((m) => m.version);
    // One took the lock and applied everything; the other waited and found nothing left.
    expect(results.map((r) => r.length).sort((a, b) => a - b)).toEqual([0, all.length]);
    expect([...results[0], ...results[1]]).toEqual(all);
    expect(steps).toEqual(all);
    expect(await ledger()).toEqual(all);
    expect(await lockHeld()).toBe(false);
  });

  it('while another process holds the lock, migrate waits, then says who holds it and how to clear it, and applies nothing', async () => {
    await store.client.command({ query: `CREATE TABLE ${LOCK_TABLE} (holder String, since DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY tuple()` });
    await insertRows(store.client, LOCK_TABLE, [{ holder: 'other-host:4242:abcd' }]);
    const extra = probe(KNOWN + 1, ['CREATE TABLE IF NOT EXISTS probe_t (x UInt8) ENGINE = MergeTree ORDER BY x']);
    const started = Date.now();
    const err = await migrate(store.client, TTL, undefined, { migrations: [...MIGRATIONS, extra], lockWaitMs: 300, pollMs: 20 }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(err).toBeInstanceOf(MigrationLockError);
    expect((err as Error).message).toMatch(/locked by other-host:4242:abcd \(since .+ UTC\); waited 300 ms\. If that process is gone .*`DROP TABLE keel_migration_lock SYNC`/);
    expect(Number((await queryRows<{ result: number }>(store.client, 'EXISTS TABLE probe_t'))[0]?.result)).toBe(0);
    expect(await ledger()).not.toContain(KNOWN + 1);

    // Released, the same call goes through; a migration that fails releases the lock it took.
    await store.client.command({ query: `DROP TABLE ${LOCK_TABLE} SYNC` });
    expect(await migrate(store.client, TTL, undefined, { migrations: [...MIGRATIONS, extra] })).toEqual([KNOWN + 1]);
    const bad = probe(KNOWN + 2, ['CREATE TABLE IF NOT EXISTS probe_bad (x UInt8) ENGINE = MergeTree ORDER BY nope']);
    await expect(migrate(store.client, TTL, undefined, { migrations: [...MIGRATIONS, extra, bad] })).rejects.toThrow(/nope/);
    expect(await lockHeld()).toBe(false);
    expect(await ledger()).not.toContain(KNOWN + 2);
  });

  it('a store at a newer schema is refused with both versions named, before any DDL', async () => {
    // The store is now at KNOWN + 1 (the probe above); this build knows KNOWN.
    const err = await migrate(store.client, TTL).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(
      `the store's schema is at version ${KNOWN + 1}, and this Keel knows versions up to ${KNOWN}: it will not write to a schema it does not know; upgrade Keel or point it at another database (telemetry.store.database)`,
    );
    expect(await lockHeld()).toBe(false);
  });

  it('a collector started against that store refuses to start: no spool, no listener', async () => {
    const spool = join(dir, 'spool');
    const started = startCollector({
      collector: { host: '127.0.0.1', port: 0, max_queue_rows: 1000, batch_rows: 100, flush_ms: 50, spool_dir: spool },
      store: { path: join(dir, 'data'), database: 'default', ttl_days: TTL },
    });
    await expect(started).rejects.toThrow(SchemaTooNewError);
    expect(existsSync(spool)).toBe(false);
  });
});
