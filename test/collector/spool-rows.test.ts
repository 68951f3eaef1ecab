import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Batcher, Spool, type Row } from '../../collector/index.js';
import { encodeRows } from '../../collector/rows/trace-lines.js';
import { protobufTraceRows } from '../../collector/rows/trace-wire.js';
import { spanBatches } from '../../bench/lib/spans.js';

/**
 * Rows that are bytes already (the protobuf path) are spooled as `.rows` files: a header line and
 * the insert body as it is. What goes in comes back byte for byte; a file that is not whole is
 * quarantined, never replayed short.
 */
const base = mkdtempSync(join(tmpdir(), 'keel-spool-rows-'));
let n = 0;
const fresh = () => join(base, `s${n++}`);
/** JSON lines as the encoder writes them: no raw newline inside (JSON escapes it). */
const line = fc.array(fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.integer()), { maxLength: 6 }).map((xs) => Buffer.from(`${JSON.stringify(xs)}\n`));

describe('spool .rows files', () => {
  it('rows as bytes come back byte for byte, and encode to the same insert body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 40 }), async (rows) => {
        const dir = fresh();
        const spool = new Spool(dir);
        const name = await spool.put({ table: 'otel_traces', token: 'tok:1', rows });
        expect(name.endsWith('.rows')).toBe(true);
        const back = await spool.read(name);
        expect(back?.token).toBe('tok:1');
        expect(back?.rows.map((r) => (Buffer.isBuffer(r) ? r.toString('hex') : 'not bytes'))).toEqual(rows.map((r) => r.toString('hex')));
        expect(encodeRows('otel_traces', back?.rows ?? []).body.equals(Buffer.concat(rows))).toBe(true);
        // The byte bound counts the file as it is on disk.
        expect(spool.bytes).toBe(readFileSync(join(dir, name)).length);
      }),
      { numRuns: 30 },
    );
  });

  it('a truncated file, a header that lies about its rows, and a header that is not one: quarantined, not replayed short', async () => {
    const dir = fresh();
    const spool = new Spool(dir);
    const rows = [Buffer.from('["a"]\n'), Buffer.from('["b"]\n')];
    const cut = await spool.put({ table: 't', token: 'cut', rows });
    truncateSync(join(dir, cut), readFileSync(join(dir, cut)).length - 3);
    const lying = await spool.put({ table: 't', token: 'lying', rows });
    const text = readFileSync(join(dir, lying), 'utf8').replace('"rows":2', '"rows":3');
    writeFileSync(join(dir, lying), text);
    writeFileSync(join(dir, '000000000000001-garbage.rows'), 'no header at all');
    for (const name of [cut, lying, '000000000000001-garbage.rows']) expect(await spool.read(name)).toBeUndefined();
    expect(spool.stats.quarantinedFiles).toBe(3);
    expect(readdirSync(join(dir, 'quarantine')).sort()).toEqual([cut, lying, '000000000000001-garbage.rows'].sort());
  });

  it('the spool folder removed under a running spool is made again: the write still lands', async () => {
    const dir = fresh();
    const spool = new Spool(dir);
    await spool.put({ table: 't', token: 'first', rows: [Buffer.from('[1]\n')] });
    rmSync(dir, { recursive: true, force: true });
    const name = await spool.put({ table: 't', token: 'second', rows: [Buffer.from('[2]\n')] });
    expect((await spool.read(name))?.rows).toEqual([Buffer.from('[2]\n')]);
  });

  it('through the batcher: a lone .rows file is replayed under its own token, byte for byte', async () => {
    const dir = fresh();
    const rows = protobufTraceRows(Buffer.from(spanBatches(1, 5)[0]?.body ?? new Uint8Array())).rows;
    await new Spool(dir).put({ table: 'otel_traces', token: 'lone-rows', rows });
    const inserts: { rows: Row[]; token: string }[] = [];
    const b = new Batcher(async (_t, r, token) => void inserts.push({ rows: r, token }), new Spool(dir), { batchRows: 1000, flushMs: 60_000, maxQueueRows: 10_000, replayMs: 60_000 });
    await b.replay();
    expect(inserts.map((i) => i.token)).toEqual(['lone-rows']);
    expect(encodeRows('otel_traces', inserts[0]?.rows ?? []).body.equals(Buffer.concat(rows))).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
    await b.close();
  });
});

describe('protobufTraceRows', () => {
  it('each row is one line with its newline, and a later request does not overwrite an earlier one\'s rows (the writer is reused)', () => {
    const [one, two] = spanBatches(2, 30).map((b) => Buffer.from(b.body));
    const first = protobufTraceRows(one ?? Buffer.alloc(0)).rows;
    const copy = first.map((r) => Buffer.from(r));
    protobufTraceRows(two ?? Buffer.alloc(0));
    expect(first).toEqual(copy);
    for (const r of first) {
      expect(r.at(-1)).toBe(0x0a);
      expect(r.subarray(0, -1).includes(0x0a)).toBe(false);
      expect(() => JSON.parse(r.toString('utf8')) as unknown).not.toThrow();
    }
  });
});
