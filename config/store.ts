import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError, formatConfigIssues } from './errors.js';
import { loadConfigFile, type LoadOptions } from './load.js';
import type { KeelConfig } from './schema.js';

export interface ConfigSnapshot {
  readonly config: KeelConfig;
  readonly version: number;
  readonly loadedAt: number;
  readonly source: string;
}

export type ReloadResult = { ok: true; version: number } | { ok: false; error: ConfigError };

/** Editors and ConfigMap updates often touch a file several times in a burst. */
const DEBOUNCE_MS = 100;

/**
 * Holds the running config. `current` is a plain field read: a request takes the
 * snapshot once and keeps it, so a reload (one reference swap) affects only
 * requests that start afterwards. An invalid file never replaces a good config.
 */
export class ConfigStore {
  #current: ConfigSnapshot;
  readonly #path: string | undefined;
  readonly #opts: (LoadOptions & { log?: (msg: string) => void }) | undefined;
  readonly #changeListeners = new Set<(snap: ConfigSnapshot) => void>();
  readonly #errorListeners = new Set<(err: ConfigError) => void>();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onSighup = () => void this.reload();

  private constructor(config: KeelConfig, source: string, path?: string, opts?: LoadOptions & { log?: (msg: string) => void }) {
    this.#current = Object.freeze({ config, version: 1, loadedAt: Date.now(), source });
    this.#path = path;
    this.#opts = opts;
  }

  static fromFile(path: string, opts: LoadOptions & { log?: (msg: string) => void }): ConfigStore {
    return new ConfigStore(loadConfigFile(path, opts), path, path, opts);
  }

  static fromValue(config: KeelConfig, source = 'built-in'): ConfigStore {
    return new ConfigStore(config, source);
  }

  get current(): ConfigSnapshot {
    return this.#current;
  }

  /** Re-reads the file. Identical content keeps the version and notifies no one. */
  reload(): ReloadResult {
    if (this.#path === undefined || this.#opts === undefined) return { ok: true, version: this.#current.version };
    let config: KeelConfig;
    try {
      config = loadConfigFile(this.#path, this.#opts);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#opts.log?.(`config reload rejected, still serving version ${this.#current.version}:\n${formatConfigIssues(err.issues)}`);
      for (const l of this.#errorListeners) l(err);
      return { ok: false, error: err };
    }
    if (JSON.stringify(config) === JSON.stringify(this.#current.config)) return { ok: true, version: this.#current.version };
    if (JSON.stringify(config.server) !== JSON.stringify(this.#current.config.server)) {
      this.#opts.log?.('config reload: server.* changed; restart Keel for that part to take effect');
    }
    this.#current = Object.freeze({ config, version: this.#current.version + 1, loadedAt: Date.now(), source: this.#path });
    this.#opts.log?.(`config reloaded: version ${this.#current.version}`);
    for (const l of this.#changeListeners) l(this.#current);
    return { ok: true, version: this.#current.version };
  }

  /** Reload on file change (the directory is watched: editors replace files by rename) and on SIGHUP. */
  watch(): void {
    if (this.#path === undefined || this.#watcher !== undefined) return;
    const name = basename(this.#path);
    this.#watcher = watch(dirname(this.#path), { persistent: false }, (_event, file) => {
      if (file !== null && file !== name) return;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.reload(), DEBOUNCE_MS);
      this.#timer.unref();
    });
    process.on('SIGHUP', this.#onSighup);
  }

  onChange(listener: (snap: ConfigSnapshot) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  onError(listener: (err: ConfigError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    process.off('SIGHUP', this.#onSighup);
  }
}
