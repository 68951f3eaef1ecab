import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ConfigError, formatConfigIssues } from './errors.js';
import { loadConfigFile, type LoadOptions } from './load.js';
import type { KeelConfig } from './schema.js';
import type { AuditActor } from './audit.js';

export interface ConfigSnapshot {
  readonly config: KeelConfig;
  readonly version: number;
  readonly loadedAt: number;
  readonly source: string;
  /** What put it in force: `startup` for the first, then the reload's cause (the audit log's actor). */
  readonly actor: AuditActor;
}

export type ReloadResult = { ok: true; version: number } | { ok: false; error: ConfigError };

export interface StoreOptions extends LoadOptions {
  log?: (msg: string) => void;
  /**
   * Config paths this process reads only at start: a reload that changes one says a restart is
   * needed (per changed key one level down, `telemetry.export`, not just `telemetry`).
   * Defaults to the gateway's.
   */
  restartOnly?: readonly string[];
  /** Keys under `restartOnly` that are read per request after all. */
  live?: readonly string[];
  /** What a new snapshot puts in force, for the reload line (`version 3 (…)`). */
  describe?: (snap: ConfigSnapshot) => string;
}

/**
 * The gateway reads these once: its listener and limits (but `max_in_flight`, read per request),
 * its telemetry pipeline (export destinations, collector, queues; but `capture_content`), and how
 * it reaches the SLO engine, and its shared state (breakers are opened on one store for the process's life).
 */
const GATEWAY_RESTART_ONLY = ['server', 'telemetry', 'state', 'slo.url', 'slo.token', 'slo.interval_s'];
const GATEWAY_LIVE = ['server.max_in_flight', 'telemetry.capture_content'];

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function at(config: KeelConfig, path: string): unknown {
  let v: unknown = config;
  for (const key of path.split('.')) v = isRecord(v) ? v[key] : undefined;
  return v;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The restart-only paths a reload from `prev` to `next` changed, one level under each root. */
export function restartNeeded(prev: KeelConfig, next: KeelConfig, roots: readonly string[], live: readonly string[] = []): string[] {
  const out: string[] = [];
  for (const root of roots) {
    const a = at(prev, root);
    const b = at(next, root);
    if (same(a, b)) continue;
    if (!isRecord(a) || !isRecord(b)) {
      out.push(root);
      continue;
    }
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const path = `${root}.${key}`;
      if (!live.includes(path) && !same(a[key], b[key])) out.push(path);
    }
  }
  return out;
}

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
  readonly #opts: StoreOptions | undefined;
  readonly #changeListeners = new Set<(snap: ConfigSnapshot) => void>();
  readonly #errorListeners = new Set<(err: ConfigError, actor: AuditActor) => void>();
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onSighup = () => void this.reload('SIGHUP');

  private constructor(config: KeelConfig, source: string, path?: string, opts?: StoreOptions) {
    this.#current = Object.freeze({ config, version: 1, loadedAt: Date.now(), source, actor: 'startup' });
    this.#path = path;
    this.#opts = opts;
  }

  static fromFile(path: string, opts: StoreOptions): ConfigStore {
    return new ConfigStore(loadConfigFile(path, opts), path, path, opts);
  }

  static fromValue(config: KeelConfig, source = 'built-in'): ConfigStore {
    return new ConfigStore(config, source);
  }

  get current(): ConfigSnapshot {
    return this.#current;
  }

  /**
   * Re-reads the file. Identical content keeps the version and notifies no one. `actor` says
   * why, for the audit log: the watcher and the SIGHUP handler name themselves; a call from
   * code (an admin endpoint, a test) is `admin api`.
   */
  reload(actor: AuditActor = 'admin api'): ReloadResult {
    if (this.#path === undefined || this.#opts === undefined) return { ok: true, version: this.#current.version };
    let config: KeelConfig;
    try {
      config = loadConfigFile(this.#path, this.#opts);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.#opts.log?.(`config reload rejected, keeping version ${this.#current.version}: ${formatConfigIssues(err.issues)}`);
      for (const l of this.#errorListeners) l(err, actor);
      return { ok: false, error: err };
    }
    if (JSON.stringify(config) === JSON.stringify(this.#current.config)) return { ok: true, version: this.#current.version };
    const restartOnly = this.#opts.restartOnly ?? GATEWAY_RESTART_ONLY;
    const live = this.#opts.restartOnly === undefined ? GATEWAY_LIVE : (this.#opts.live ?? []);
    for (const path of restartNeeded(this.#current.config, config, restartOnly, live)) this.#opts.log?.(`config reload: ${path} changed: restart Keel for it to take effect`);
    this.#current = Object.freeze({ config, version: this.#current.version + 1, loadedAt: Date.now(), source: this.#path, actor });
    const what = this.#opts.describe?.(this.#current);
    this.#opts.log?.(`config reload: version ${this.#current.version}${what === undefined ? '' : ` (${what})`}`);
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
      this.#timer = setTimeout(() => void this.reload('file change'), DEBOUNCE_MS);
      this.#timer.unref();
    });
    process.on('SIGHUP', this.#onSighup);
  }

  onChange(listener: (snap: ConfigSnapshot) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  onError(listener: (err: ConfigError, actor: AuditActor) => void): () => void {
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
