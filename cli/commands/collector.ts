import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfigFile, resolveConfigPath } from '../../config/index.js';
import { telemetrySchema, type TelemetryConfig } from '../../config/telemetry-schema.js';
import type { AddressInfo } from 'node:net';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import type { KeelConfig } from '../../config/schema.js';
import { isLoopbackHost } from '../../config/secret.js';
import { durationMs } from '../../config/slo-schema.js';
import { budgetOf, buildSloServer, effectiveSlos, recordCanaryEvents, SloLoop, WeightsPublisher } from '../../slo/index.js';
import { realProvidersConfig, simulatedConfig } from '../default-config.js';
import { providerRules } from '../../gateway/providers/index.js';
import type { CommonFlags } from '../args.js';

const log = (msg: string) => process.stderr.write(`keel collector: ${msg}\n`);

/** The config the collector and SLO engine run with: keel.yaml, else what `keel start` would use. */
export function keelConfig(flags: CommonFlags): KeelConfig {
  const path = resolveConfigPath(flags.config);
  if (path !== undefined) return loadConfigFile(path, providerRules);
  // Only route names matter here (default SLOs); the demo's simulator address does not.
  return realProvidersConfig(process.env) ?? simulatedConfig('http://127.0.0.1:9', 0);
}

/** The telemetry block of keel.yaml, or the defaults when there is none. */
export function telemetryConfig(flags: CommonFlags): TelemetryConfig {
  const path = resolveConfigPath(flags.config);
  return path === undefined ? telemetrySchema.parse({}) : loadConfigFile(path, providerRules).telemetry;
}

/** Where a running collector leaves its URL, beside the embedded data folder, so `keel query` finds it. */
export function collectorFile(cfg: TelemetryConfig): string {
  return join(dirname(resolve(cfg.store.path)), 'collector.json');
}

/** Where a collector with no configured token leaves the one it generated for /query (0600), so `keel query` can send it. */
export function queryTokenFile(cfg: TelemetryConfig): string {
  return join(dirname(resolve(cfg.store.path)), 'query.token');
}

/** Writes the generated /query token readable by this user only; a file already there (another run's) is replaced, never reused. */
function writeQueryToken(file: string, token: string): void {
  mkdirSync(dirname(file), { recursive: true });
  rmSync(file, { force: true });
  // 'wx': created here, with these permissions, not written through a link someone left in its place.
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
}

/**
 * Where keel query and keel slo status find this collector (and, with no token configured, the
 * /query token). A folder that cannot be written costs those commands, not the collector.
 */
function writeMarkers(cfg: TelemetryConfig, running: RunningCollector, sloUrl: string): string[] {
  const written: string[] = [];
  try {
    // The token first: whoever finds the marker finds the token too.
    if (cfg.collector.token === undefined) {
      writeQueryToken(queryTokenFile(cfg), running.queryToken);
      written.push(queryTokenFile(cfg));
    }
    const marker = collectorFile(cfg);
    writeFileSync(marker, JSON.stringify({ url: running.url, slo: sloUrl, pid: process.pid }));
    written.push(marker);
  } catch (err) {
    log(`cannot write ${dirname(collectorFile(cfg))} (${err instanceof Error ? err.message : String(err)}): keel query and keel slo status will not find this collector`);
  }
  return written;
}

/** The SLO engine beside the collector: same store, its own loop and status server. */
async function startSloEngine(config: KeelConfig, running: RunningCollector, port: number | undefined): Promise<{ url: string; count: number; stop: () => Promise<void> }> {
  const specs = effectiveSlos(config.slo, Object.keys(config.routes));
  const host = config.telemetry.collector.host;
  const loop = new SloLoop({
    client: running.store.client,
    specs: () => specs,
    alerting: config.slo.alerting,
    intervalMs: config.slo.interval_s * 1000,
    generatorURL: `http://${host}:${port ?? config.slo.port}/`,
    log,
  });
  const adaptiveRoutes = Object.entries(config.routes).filter(([, r]) => r.adaptive).map(([name]) => name);
  const budgets = new Map(specs.filter((s) => s.sli === 'availability' && s.scope.route !== undefined).map((s) => [s.scope.route ?? '', budgetOf(s.objective)]));
  const canaries = Object.entries(config.routes).flatMap(([route, r]) =>
    r.targets.flatMap((t) => (t.canary === undefined ? [] : [{ key: `${route}|${t.provider}|${t.model}`, steps: t.canary.steps, stepMs: durationMs(t.canary.step_duration), gate: t.canary.gate, minAttempts: t.canary.min_attempts }])),
  );
  const publisher = new WeightsPublisher({
    client: running.store.client,
    routes: () => adaptiveRoutes,
    budget: (route) => budgets.get(route) ?? 0.005,
    cfg: config.slo.adaptive,
    canaries: () => canaries,
    onCanary: recordCanaryEvents(running.store.client, log),
  });
  await publisher.load().catch(() => undefined);
  const app = buildSloServer(loop, running.store.client, () => publisher.snapshot, { token: config.slo.token });
  await app.listen({ host, port: port ?? config.slo.port });
  const { port: bound } = app.server.address() as AddressInfo;
  loop.start();
  const weightsTimer = setInterval(() => {
    publisher
      .tick()
      .then((changes) => changes.forEach((c) => log(`weight ${c.key}: ${c.from.toFixed(2)} → ${c.to.toFixed(2)} (${c.reason})`)))
      .catch((err: unknown) => log(`weights evaluation failed (will retry): ${err instanceof Error ? err.message : String(err)}`));
  }, config.slo.interval_s * 1000);
  weightsTimer.unref();
  return {
    url: `http://${host}:${bound}`,
    count: specs.length,
    stop: async () => {
      clearInterval(weightsTimer);
      await app.close();
      await loop.stop();
    },
  };
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
  const config = keelConfig(flags);
  const cfg = config.telemetry;
  const managed = process.send !== undefined;
  const where = cfg.store.url === undefined ? `embedded ClickHouse (chDB) in ${cfg.store.path}` : `ClickHouse at ${new URL(cfg.store.url).host}`;
  log(`store: ${where}`);
  const host = flags.host ?? cfg.collector.host;
  if (cfg.collector.token === undefined && !isLoopbackHost(host)) {
    // The config check covers telemetry.collector.host; --host can move the listener past it.
    const message = `refusing to listen on ${host} without telemetry.collector.token: anyone reaching it could forge spans and read the store`;
    log(message);
    process.send?.({ type: 'failed', message });
    return 1;
  }
  let running;
  try {
    running = await startCollector({
      collector: { ...cfg.collector, host, port: flags.port ?? flags.collectorPort ?? cfg.collector.port },
      store: cfg.store,
      onMigration: (name) => log(`migration: ${name}`),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`could not start: ${message}`);
    if (cfg.store.url === undefined && !(err instanceof Error && err.name === 'SchemaTooNewError')) log(`if another keel is running on ${cfg.store.path}, stop it or point telemetry.store.path elsewhere.`);
    process.send?.({ type: 'failed', message });
    return 1;
  }
  const slo = await startSloEngine(config, running, flags.sloPort);
  const markers = writeMarkers(cfg, running, slo.url);
  process.send?.({ type: 'ready', url: running.url, slo: slo.url });
  log(`listening on ${running.url} (OTLP/HTTP: /v1/traces, /v1/metrics)`);
  log(`SLO engine: ${slo.count} SLO(s), status page on ${slo.url}/`);
  await stopSignal(managed);
  log('flushing and stopping…');
  await slo.stop();
  await running.close();
  for (const file of markers) rmSync(file, { force: true });
  log('stopped');
  process.disconnect?.();
  return 0;
}
