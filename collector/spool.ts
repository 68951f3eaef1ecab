import { mkdir, readdir, readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';

/** A row as an object, or as a line already encoded in its table's insert format (see encodeRows). */
export type Row = Record<string, unknown> | string;

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

/**
 * The collector's write-ahead: one JSON file per accepted batch, and one manifest per
 * insert grouping several; each written to a temp name, fsynced, then renamed, so a crash
 * never leaves half a file. Files stay until ClickHouse has the rows.
 */
export class Spool {
  readonly #dir: string;
  /** Size of every file this spool knows of, so its total is known without listing the folder per request. */
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Bytes held on disk: accepted data ClickHouse does not have yet (the collector's back-pressure measure). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Counts what an earlier process left in the folder (call once, before the first replay). */
  async measure(): Promise<void> {
    for (const name of await this.#names()) {
      if (this.#sizes.has(name)) continue;
      const size = await stat(join(this.#dir, name)).then((st) => st.size, () => 0);
      this.#track(name, size);
    }
  }

  #track(name: string, size: number): void {
    this.#bytes += size - (this.#sizes.get(name) ?? 0);
    this.#sizes.set(name, size);
  }

  /** Writes a batch; returns its file name. */
  async put(batch: SpooledBatch): Promise<string> {
    return this.#write(batch.token, '.json', JSON.stringify(batch));
  }

  /** Writes an insert group's manifest; returns its file name. */
  async group(g: Omit<SpooledGroup, 'name'>): Promise<string> {
    return this.#write(g.token, '.group', JSON.stringify(g));
  }

  async #write(token: string, ext: string, text: string): Promise<string> {
    await mkdir(this.#dir, { recursive: true });
    const name = `${Date.now().toString().padStart(15, '0')}-${token.replace(/[^\w.-]/g, '_')}${ext}`;
    const tmp = join(this.#dir, `.${name}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.#dir, name));
    this.#track(name, Buffer.byteLength(text));
    return name;
  }

  /** Insert groups left by a flush that did not finish, oldest first. */
  async groups(): Promise<SpooledGroup[]> {
    const names = (await this.#names()).filter((f) => f.endsWith('.group'));
    return Promise.all(names.map(async (name) => ({ ...(JSON.parse(await readFile(join(this.#dir, name), 'utf8')) as Omit<SpooledGroup, 'name'>), name })));
  }

  async #names(): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter((f) => !f.startsWith('.')).sort();
    } catch {
      return [];
    }
  }

  /** Spooled batch files, oldest first. */
  async list(): Promise<string[]> {
    return (await this.#names()).filter((f) => f.endsWith('.json'));
  }

  async read(name: string): Promise<SpooledBatch> {
    return JSON.parse(await readFile(join(this.#dir, name), 'utf8')) as SpooledBatch;
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.#dir, name), { force: true });
    this.#bytes -= this.#sizes.get(name) ?? 0;
    this.#sizes.delete(name);
  }

  /** For tests and status: a marker that the spool folder is usable. */
  async probe(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFile(join(this.#dir, '.probe'), '');
  }
}
