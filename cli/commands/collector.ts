import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfigFile, resolveConfigPath } from '../../config/index.js';
import { telemetrySchema, type TelemetryConfig } from '../../config/telemetry-schema.js';
import { startCollector } from '../../collector/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import type { CommonFlags } from '../args.js';

const log = (msg: string) => process.stderr.write(`keel collector: ${msg}\n`);

/** The telemetry block of keel.yaml, or the defaults when there is none. */
export function telemetryConfig(flags: CommonFlags): TelemetryConfig {
  const path = resolveConfigPath(flags.config);
  return path === undefined ? telemetrySchema.parse({}) : loadConfigFile(path, providerRules).telemetry;
}

/** Where a running collector leaves its URL, beside the embedded data folder, so `keel query` finds it. */
export function collectorFile(cfg: TelemetryConfig): string {
  return join(dirname(resolve(cfg.store.path)), 'collector.json');
}

/** What the process waits for before stopping: a managed child stops when its parent says so. */
function stopSignal(managed: boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    // Ctrl-C reaches the whole process group; under `keel start` the parent stops us after it
    // has flushed the gateway's telemetry into us, so SIGINT is the parent's business.
    if (managed) {
      process.on('SIGINT', () => undefined);
      process.once('disconnect', resolve);
    } else process.once('SIGINT', resolve);
  });
}

/** `keel collector`: the OTLP receiver and ClickHouse writer (embedded chDB or a server URL). */
export async function collector(flags: CommonFlags): Promise<number> {
  const cfg = telemetryConfig(flags);
  const managed = process.send !== undefined;
  const where = cfg.store.url === undefined ? `embedded ClickHouse (chDB) in ${cfg.store.path}` : `ClickHouse at ${new URL(cfg.store.url).host}`;
  log(`store: ${where}`);
  let running;
  try {
    running = await startCollector({
      collector: { ...cfg.collector, host: flags.host ?? cfg.collector.host, port: flags.port ?? flags.collectorPort ?? cfg.collector.port },
      store: cfg.store,
      onMigration: (name) => log(`migration: ${name}`),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`could not start: ${message}`);
    if (cfg.store.url === undefined) log(`if another keel is running on ${cfg.store.path}, stop it or point telemetry.store.path elsewhere.`);
    process.send?.({ type: 'failed', message });
    return 1;
  }
  const marker = collectorFile(cfg);
  writeFileSync(marker, JSON.stringify({ url: running.url, pid: process.pid }));
  process.send?.({ type: 'ready', url: running.url });
  log(`listening on ${running.url} (OTLP/HTTP: /v1/traces, /v1/metrics)`);
  await stopSignal(managed);
  log('flushing and stopping…');
  await running.close();
  rmSync(marker, { force: true });
  log('stopped');
  process.disconnect?.();
  return 0;
}
