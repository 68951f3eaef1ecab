import { mkdir, readdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';

export interface SpooledBatch {
  table: string;
  /** ClickHouse insert_deduplication_token: a replay of a batch that did land is dropped by ClickHouse. */
  token: string;
  rows: Record<string, unknown>[];
}

/**
 * Batches ClickHouse did not take, on disk until it does: one JSON file per batch,
 * written to a temp name, fsynced, then renamed, so a crash never leaves half a batch.
 */
export class Spool {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async put(batch: SpooledBatch): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const name = `${Date.now().toString().padStart(15, '0')}-${batch.token.replace(/[^\w.-]/g, '_')}.json`;
    const tmp = join(this.#dir, `.${name}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(batch));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.#dir, name));
  }

  /** Spooled batch files, oldest first. */
  async list(): Promise<string[]> {
    try {
      return (await readdir(this.#dir)).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
    } catch {
      return [];
    }
  }

  async read(name: string): Promise<SpooledBatch> {
    return JSON.parse(await readFile(join(this.#dir, name), 'utf8')) as SpooledBatch;
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.#dir, name), { force: true });
  }

  /** For tests and status: a marker that the spool folder is usable. */
  async probe(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFile(join(this.#dir, '.probe'), '');
  }
}
