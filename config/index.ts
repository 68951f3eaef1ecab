/**
 * keel.yaml: one file, validated once with a strict schema (unknown keys are
 * errors), every problem reported as `file:line:col: path: reason`. `${VAR}` and
 * `${VAR:-default}` take secrets from the environment after parsing, so they can
 * never change the structure and are never echoed in errors. `ConfigStore` hot-
 * reloads on file change and SIGHUP, keeping the last good config on failure.
 */
export { ConfigError, formatConfigIssues, type ConfigIssue } from './errors.js';
export { loadConfigFile, loadConfigText, type LoadOptions } from './load.js';
export { resolveConfigPath } from './paths.js';
export { buildConfigSchema, type KeelConfig, type ProviderConfig, type RouteConfig, type TargetConfig } from './schema.js';
export { ConfigStore, restartNeeded, type ConfigSnapshot, type ReloadResult, type StoreOptions } from './store.js';
