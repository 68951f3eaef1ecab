import { open } from 'node:fs/promises';
import type { SpooledBatch, SpooledGroup } from './spool.js';

/**
 * The file system calls that make a spool file durable, injectable so tests can fail them as a
 * bad disk does (ENOSPC, EIO) without filling a real disk.
 */
export interface SpoolIo {
  /** Creates `path` holding `data`, fsynced before it resolves. */
  writeDurable: (path: string, data: string | Buffer) => Promise<void>;
  /** fsyncs a folder, so a rename in it survives a power cut (the file's own fsync does not cover its name). */
  syncDir: (dir: string) => Promise<void>;
}

export const diskIo: SpoolIo = {
  writeDurable: async (path, data) => {
    const fh = await open(path, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  syncDir: async (dir) => {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};


/** Batch files: JSON (rows as objects or strings), or `.rows` (a header line, then the insert body's bytes as they are). */
export const isBatchName = (name: string) => name.endsWith('.json') || name.endsWith('.rows');
export const isData = (name: string) => isBatchName(name) || name.endsWith('.group');

export function isBatch(v: unknown): v is SpooledBatch {
  const b = v as Partial<SpooledBatch> | null;
  return typeof b === 'object' && b !== null && typeof b.table === 'string' && typeof b.token === 'string' && Array.isArray(b.rows);
}

export function isGroup(v: unknown): v is Omit<SpooledGroup, 'name'> {
  const g = v as Partial<SpooledGroup> | null;
  return typeof g === 'object' && g !== null && typeof g.table === 'string' && typeof g.token === 'string' && Array.isArray(g.members) && g.members.every((m) => typeof m === 'string');
}

/**
 * The spool's `.rows` files: one header line (JSON: table, token, row count, body length), then
 * the insert body's bytes exactly as ClickHouse takes them, one line per row. The counts make a
 * truncated or damaged file detectable (quarantined, as a JSON file that does not parse is).
 */
interface RowsHeader {
  table: string;
  token: string;
  rows: number;
  bytes: number;
}

function isRowsHeader(v: unknown): v is RowsHeader {
  const h = v as Partial<RowsHeader> | null;
  return typeof h === 'object' && h !== null && typeof h.table === 'string' && typeof h.token === 'string' && Number.isSafeInteger(h.rows) && Number.isSafeInteger(h.bytes);
}

/** A `.rows` file back into its batch: the rows are views of `file`, one line each; an error text when it is not whole. */
export function parseRows(file: Buffer): SpooledBatch | string {
  const nl = file.indexOf(0x0a);
  let header: unknown;
  try {
    header = nl < 0 ? undefined : JSON.parse(file.toString('utf8', 0, nl));
  } catch {
    header = undefined;
  }
  if (!isRowsHeader(header)) return 'not a spool record';
  const body = file.subarray(nl + 1);
  if (body.length !== header.bytes) return `truncated (${body.length} of ${header.bytes} bytes)`;
  const rows: Buffer[] = [];
  for (let s = 0; s < body.length; ) {
    const e = body.indexOf(0x0a, s);
    if (e < 0) return 'truncated (a line without its end)';
    rows.push(body.subarray(s, e + 1));
    s = e + 1;
  }
  if (rows.length !== header.rows) return `corrupt (${rows.length} of ${header.rows} rows)`;
  return { table: header.table, token: header.token, rows };
}

/** The header line of a `.rows` file, with its '\n'. */
export function rowsHeader(table: string, token: string, rows: number, bytes: number): Buffer {
  return Buffer.from(`${JSON.stringify({ table, token, rows, bytes })}\n`);
}
