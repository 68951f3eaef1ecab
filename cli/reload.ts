import { ConfigStore, loadConfigFile, resolveConfigPath } from '../config/index.js';
import type { KeelConfig } from '../config/schema.js';
import { providerRules } from '../gateway/providers/index.js';
import { describeSettings, liveSloSettings, type SloSettings } from '../slo/index.js';
import type { CommonFlags } from './args.js';
import { realProvidersConfig, simulatedConfig } from './default-config.js';

/**
 * What `keel collector` (and the SLO engine in it) reads only at start: its listeners, the store,
 * the evaluation period, the SLO token (gateways hold the same token; both restart together) and
 * `state` (the SLO leader lease is taken on the Redis it names at start).
 * `slo:` objectives, alerting, adaptive settings and `routes:` reload.
 */
const COLLECTOR_RESTART_ONLY = ['telemetry.collector', 'telemetry.store', 'slo.port', 'slo.token', 'slo.interval_s', 'state'];

/** With no keel.yaml: what `keel start` would use. Only route names matter here (default SLOs); the demo's simulator address does not. */
function builtInConfig(): KeelConfig {
  return realProvidersConfig(process.env) ?? simulatedConfig('http://127.0.0.1:9', 0);
}

/** The config once, for one-shot commands (`keel slo rules`, `keel slo status`). */
export function keelConfig(flags: CommonFlags): KeelConfig {
  const path = resolveConfigPath(flags.config);
  return path === undefined ? builtInConfig() : loadConfigFile(path, providerRules);
}

export interface LiveConfig {
  /** The gateway's ConfigStore: validated reloads on file change and SIGHUP, the last good config kept. */
  store: ConfigStore;
  /** The SLO engine's view of the snapshot in force. */
  settings: () => SloSettings;
}

/**
 * The collector's config, live: the same ConfigStore the gateway runs on, watching the same file.
 * Each accepted reload logs `config reload: version N (slo: …)`; a rejected one logs
 * `file:line:col: path: reason` and keeps the version in force; a change to something read only at
 * start says a restart is needed. The built-in config (no file) never changes.
 */
export function liveCollectorConfig(flags: CommonFlags, log: (msg: string) => void): LiveConfig {
  const path = resolveConfigPath(flags.config);
  if (path === undefined) {
    const store = ConfigStore.fromValue(builtInConfig(), 'built-in');
    return { store, settings: liveSloSettings(store) };
  }
  // describe() runs on reloads only, after `settings` exists.
  const store = ConfigStore.fromFile(path, { ...providerRules, log, restartOnly: COLLECTOR_RESTART_ONLY, describe: () => describeSettings(settings()) });
  const settings = liveSloSettings(store);
  store.watch();
  return { store, settings };
}
