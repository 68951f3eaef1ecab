import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeRows } from './rows/trace-lines.js';
import { diskIo, isBatch, isBatchName, isData, isGroup, parseRows, rowsHeader, type SpoolIo } from './spool-files.js';

export { diskIo, type SpoolIo };

/**
 * A row as an object, or as a line already encoded in its table's insert format (see
 * encodeRows): a string without its '\n', or bytes with it (the protobuf path, line-writer.ts).
 */
export type Row = Record<string, unknown> | string | Buffer;

export interface SpooledBatch {
  table: string;
  /** ClickHouse insert_deduplication_token: a replay of a batch that did land is dropped by ClickHouse. */
  token: string;
  rows: Row[];
}

/** A flush's manifest: the member files inserted together under one token. */
export interface SpooledGroup {
  name: string;
  table: string;
  token: string;
  members: string[];
}

export interface SpoolOptions {
  io?: SpoolIo;
  /** Clock for file names and ages (tests compress hours into milliseconds). */
  now?: () => number;
  /** One line per event worth an operator's attention (a quarantined file, leftovers removed at start). */
  log?: (msg: string) => void;
}

export interface SpoolStats {
  /** Files moved to quarantine/ because they could not be read or parsed. */
  quarantinedFiles: number;
  /** Half-written temp files found at start and removed (a crash mid-write). */
  tmpRemoved: number;
}

/** Names start with the write time in ms, zero-padded: name order is age order. */
const STAMP_DIGITS = 15;
export const QUARANTINE_DIR = 'quarantine';

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The collector's write-ahead: one JSON file per accepted batch, and one manifest per insert
 * grouping several; each written to a temp name, fsynced, renamed, then the folder fsynced, so
 * a crash or power cut never leaves half a file under a real name. Files stay until ClickHouse
 * has the rows. A file that cannot be read back (a bad disk, a truncation) is moved to
 * quarantine/ rather than stopping the replay: one bad file must not hold back the rest.
 */
export class Spool {
  readonly #dir: string;
  readonly #io: SpoolIo;
  readonly #now: () => number;
  readonly #log: (msg: string) => void;
  /**
   * Size of every file this spool knows of, so its total is known without listing the folder per
   * request. Insertion order is age order (open() adds sorted, writes add newest last), which
   * makes the oldest file the first key: eviction and the age gauge need no sort.
   */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;
  /** Which manifest names a batch, and how many of each manifest's members are left: a manifest the cap emptied goes too. */
  readonly #memberOf = new Map<string, string>();
  readonly #membersLeft = new Map<string, number>();
  readonly stats: SpoolStats = { quarantinedFiles: 0, tmpRemoved: 0 };
  #dirMade = false;

  constructor(dir: string, o: SpoolOptions = {}) {
    this.#dir = dir;
    this.#io = o.io ?? diskIo;
    this.#now = o.now ?? Date.now;
    this.#log = o.log ?? (() => undefined);
  }

  /** Bytes held on disk: accepted data ClickHouse does not have yet. */
  get bytes(): number {
    return this.#bytes;
  }

  get files(): number {
    return this.#sizes.size;
  }

  /** Age of the oldest batch, in seconds (0 when empty): how far behind ClickHouse is. */
  oldestAgeS(): number {
    const first = this.oldest(() => false);
    if (first === undefined) return 0;
    const written = Number(first.slice(0, STAMP_DIGITS));
    return Number.isFinite(written) ? Math.max(0, (this.#now() - written) / 1000) : 0;
  }

  /**
   * Call once, before the first replay: removes temp files a crash left half-written (their
   * batch was never acknowledged, so nothing is lost) and counts what an earlier run left.
   */
  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const all = await this.#all();
    const tmps = all.filter((f) => f.startsWith('.') && f.endsWith('.tmp'));
    await Promise.all(tmps.map((f) => rm(join(this.#dir, f), { force: true })));
    if (tmps.length > 0) this.#log(`spool: removed ${tmps.length} half-written temp file(s) left by a crash`);
    this.stats.tmpRemoved += tmps.length;
    for (const name of all.filter((f) => !f.startsWith('.') && isData(f)).sort()) {
      if (this.#sizes.has(name)) continue;
      const size = await stat(join(this.#dir, name)).then((st) => st.size, () => 0);
      this.#track(name, size);
    }
  }

  #track(name: string, size: number): void {
    this.#bytes += size - (this.#sizes.get(name) ?? 0);
    this.#sizes.set(name, size);
  }

  #untrack(name: string): void {
    this.#bytes -= this.#sizes.get(name) ?? 0;
    this.#sizes.delete(name);
  }

  /** The part of a batch file's name that comes from its token (what the batcher holds while it owns the file). */
  static keyOf(token: string): string {
    return token.replace(/[^\w.-]/g, '_');
  }

  static keyOfName(name: string): string {
    return name.slice(STAMP_DIGITS + 1).replace(/\.(json|rows|group)$/, '');
  }

  /**
   * Writes a batch; returns its file name. Rows that are bytes already (the protobuf path) go as
   * they are, after one header line: JSON.stringify of those lines escaped every quote in them
   * again, and was the spool's main-thread cost (bench/reading.md, the collector again).
   */
  async put(batch: SpooledBatch): Promise<string> {
    if (!batch.rows.some((r) => Buffer.isBuffer(r))) return this.#write(batch.token, '.json', JSON.stringify(batch));
    const { body } = encodeRows(batch.table, batch.rows);
    return this.#write(batch.token, '.rows', Buffer.concat([rowsHeader(batch.table, batch.token, batch.rows.length, body.length), body]));
  }

  /** Writes an insert group's manifest; returns its file name. */
  async group(g: Omit<SpooledGroup, 'name'>): Promise<string> {
    const name = await this.#write(g.token, '.group', JSON.stringify(g));
    this.#register(name, g.members);
    return name;
  }

  #register(manifest: string, members: string[]): void {
    if (this.#membersLeft.has(manifest)) return;
    const present = members.filter((m) => this.#sizes.has(m));
    present.forEach((m) => this.#memberOf.set(m, manifest));
    this.#membersLeft.set(manifest, present.length);
  }

  async #write(token: string, ext: string, text: string | Buffer): Promise<string> {
    // Once, not per write (a mkdir per accepted export showed in the profile); a folder removed
    // under a running collector is made again below.
    if (!this.#dirMade) await mkdir(this.#dir, { recursive: true });
    this.#dirMade = true;
    const name = `${Math.floor(this.#now()).toString().padStart(STAMP_DIGITS, '0')}-${Spool.keyOf(token)}${ext}`;
    const tmp = join(this.#dir, `.${name}.tmp`);
    try {
      await this.#durable(tmp, name, text).catch(async (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(this.#dir, { recursive: true });
        await this.#durable(tmp, name, text);
      });
    } catch (err) {
      // Not acknowledged, so not kept: a sender told 503 sends again, and a file left here would double it.
      await rm(tmp, { force: true }).catch(() => undefined);
      await rm(join(this.#dir, name), { force: true }).catch(() => undefined);
      throw err;
    }
    this.#track(name, Buffer.byteLength(text));
    return name;
  }

  async #durable(tmp: string, name: string, data: string | Buffer): Promise<void> {
    await this.#io.writeDurable(tmp, data);
    await rename(tmp, join(this.#dir, name));
    await this.#io.syncDir(this.#dir);
  }

  /** Insert groups left by a flush that did not finish, oldest first; unreadable manifests are quarantined. */
  async groups(): Promise<SpooledGroup[]> {
    const out: SpooledGroup[] = [];
    for (const name of (await this.#names()).filter((f) => f.endsWith('.group'))) {
      const g = await this.#load(name, isGroup);
      if (g === undefined) continue;
      this.#register(name, g.members);
      out.push({ table: g.table, token: g.token, members: g.members, name });
    }
    return out;
  }

  async #all(): Promise<string[]> {
    try {
      return await readdir(this.#dir);
    } catch {
      return [];
    }
  }

  async #names(): Promise<string[]> {
    return (await this.#all()).filter((f) => !f.startsWith('.') && isData(f)).sort();
  }

  /** Spooled batch files, oldest first. */
  async list(): Promise<string[]> {
    return (await this.#names()).filter(isBatchName);
  }

  /** A batch, or undefined when it is gone (already removed) or could not be read (then quarantined). */
  async read(name: string): Promise<SpooledBatch | undefined> {
    if (!name.endsWith('.rows')) return this.#load(name, isBatch);
    const file = await this.#readBytes(name);
    if (file === undefined) return undefined;
    const batch = parseRows(file);
    return typeof batch === 'string' ? this.#quarantine(name, batch) : batch;
  }

  /** A file's bytes, or undefined when it is gone or unreadable (then quarantined). */
  async #readBytes(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.#dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.#gone(name);
      return this.#quarantine(name, `unreadable: ${errText(err)}`);
    }
  }

  async #load<T>(name: string, valid: (v: unknown) => v is T): Promise<T | undefined> {
    const bytes = await this.#readBytes(name);
    if (bytes === undefined) return undefined;
    const text = bytes.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return this.#quarantine(name, `corrupt or truncated (${text.length} bytes): ${errText(err)}`);
    }
    return valid(parsed) ? parsed : this.#quarantine(name, 'not a spool record');
  }

  #gone(name: string): undefined {
    this.#untrack(name);
    return undefined;
  }

  /** Moves a file aside (kept for a post-mortem, never replayed); if even the move fails, deletes it. */
  async #quarantine(name: string, why: string): Promise<undefined> {
    const to = join(this.#dir, QUARANTINE_DIR, name);
    try {
      await mkdir(join(this.#dir, QUARANTINE_DIR), { recursive: true });
      await rename(join(this.#dir, name), to);
    } catch {
      await rm(join(this.#dir, name), { recursive: true, force: true }).catch(() => undefined);
    }
    this.stats.quarantinedFiles++;
    this.#log(`spool: ${name} is ${why}; moved to ${QUARANTINE_DIR}/ and skipped`);
    return this.#gone(name);
  }

  /** The oldest batch file not held by `held` (keys, see keyOf), or undefined. */
  oldest(held: (key: string) => boolean): string | undefined {
    for (const name of this.#sizes.keys()) if (isBatchName(name) && !held(Spool.keyOfName(name))) return name;
    return undefined;
  }

  /** Deletes a batch ClickHouse never got (the byte cap); returns what it held, for the drop counters. */
  async drop(name: string): Promise<{ table: string; rows: number } | undefined> {
    const batch = await this.read(name);
    const manifest = this.#memberOf.get(name);
    await this.remove(name);
    // A manifest with no member left would only be read and skipped by every replay, and hold bytes the cap cannot free.
    const left = manifest === undefined ? undefined : (this.#membersLeft.get(manifest) ?? 1) - 1;
    if (manifest !== undefined && left !== undefined && left <= 0) await this.remove(manifest);
    else if (manifest !== undefined && left !== undefined) this.#membersLeft.set(manifest, left);
    return batch === undefined ? undefined : { table: batch.table, rows: batch.rows.length };
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.#dir, name), { force: true });
    this.#untrack(name);
    this.#memberOf.delete(name);
    this.#membersLeft.delete(name);
  }

  /** For tests and status: a marker that the spool folder is usable. */
  async probe(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFile(join(this.#dir, '.probe'), '');
  }
}
