import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Batcher, type Row } from '../../collector/batcher.js';
import { diskIo, Spool, type SpoolIo } from '../../collector/spool.js';

/** The byte cap drops only what nobody is landing: every row is either inserted once or counted as dropped, never both. */
describe('spool_max_bytes: drop-oldest accounting', () => {
  const rows = (n: number, tag: string): Row[] => Array.from({ length: n }, (_, i) => ({ tag, i, pad: 'x'.repeat(200) }));

  it('rows still queued in memory are never dropped; once their insert failed, the oldest go first', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-cap-'));
    let up = false;
    const landed: Row[] = [];
    const insert = async (_t: string, r: Row[]) => {
      if (!up) throw new Error('away');
      landed.push(...r);
    };
    const b = new Batcher(insert, new Spool(dir), { batchRows: 10_000, flushMs: 3_600_000, maxQueueRows: 100_000, replayMs: 3_600_000, spoolMaxBytes: 3_000 });
    for (let i = 0; i < 3; i++) await b.add({ otel_traces: rows(5, `q${i}`) });
    // Over the cap, but all three are the flush's to land: nothing to drop yet.
    expect(b.spoolBytes).toBeGreaterThan(3_000);
    expect(b.stats.droppedFiles).toBe(0);
    await b.flush();
    await b.add({ otel_traces: rows(5, 'q3') });
    expect(b.spoolBytes).toBeLessThanOrEqual(3_000);
    expect(b.stats.droppedFiles).toBeGreaterThan(0);
    up = true;
    await b.replay();
    await b.flush();
    const tags = new Set(landed.map((r) => (r as { tag: string }).tag));
    expect(tags.has('q0')).toBe(false);
    expect(tags.has('q3')).toBe(true);
    expect(landed.length + b.stats.droppedSpans).toBe(20);
    expect(readdirSync(dir)).toEqual([]);
    await b.close();
  });

  it('a group being replayed is not dropped under it: inserted rows plus dropped rows are exactly what was accepted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-cap-'));
    let up = false;
    let gate: (() => void) | undefined;
    const landed: Row[] = [];
    const insert = async (_t: string, r: Row[]) => {
      if (!up) throw new Error('away');
      // The first replayed insert hangs until released: new data arrives over the cap meanwhile.
      if (gate === undefined) await new Promise<void>((resolve) => (gate = resolve));
      landed.push(...r);
    };
    const b = new Batcher(insert, new Spool(dir), { batchRows: 10_000, flushMs: 3_600_000, maxQueueRows: 100_000, replayMs: 3_600_000, spoolMaxBytes: 6_000 });
    for (let i = 0; i < 4; i++) {
      await b.add({ otel_traces: rows(5, `old${i}`) });
      await b.flush();
    }
    up = true;
    const replay = b.replay();
    await expect.poll(() => gate !== undefined).toBe(true);
    for (let i = 0; i < 4; i++) await b.add({ otel_traces: rows(5, `new${i}`) });
    gate?.();
    await replay;
    await b.replay();
    await b.flush();
    expect(landed.filter((r) => (r as { tag: string }).tag === 'old0')).toHaveLength(5);
    expect(landed.length + b.stats.droppedSpans).toBe(40);
    expect(new Set(landed.map((r) => JSON.stringify(r))).size).toBe(landed.length);
    await b.close();
  });
});

describe('spool writes are crash-safe', () => {
  it('each file is written and fsynced under a temp name, renamed, then its folder fsynced (the rename is durable too)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-fsync-'));
    const calls: string[] = [];
    const io: SpoolIo = {
      writeDurable: async (path, data) => {
        calls.push(`write ${path.slice(dir.length + 1).replace(/\d{15}/, 'T')}`);
        await diskIo.writeDurable(path, data);
      },
      syncDir: async (d) => {
        // By now the file is under its real name: the folder's fsync makes that name survive a power cut.
        calls.push(`syncDir ${d === dir} ${readdirSync(d).filter((f) => f.endsWith('.json')).length} ${readdirSync(d).some((f) => f.endsWith('.tmp'))}`);
        await diskIo.syncDir(d);
      },
    };
    const spool = new Spool(dir, { io });
    const name = await spool.put({ table: 't', token: 'tok', rows: [{ n: 1 }] });
    expect(calls).toEqual(['write .T-tok.json.tmp', 'syncDir true 1 false']);
    expect(existsSync(join(dir, name))).toBe(true);
  });
});
