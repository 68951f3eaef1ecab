import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve } from 'node:path';
import { loadConfigFile, resolveConfigPath } from '../../config/index.js';
import { telemetrySchema, type TelemetryConfig } from '../../config/telemetry-schema.js';
import type { AddressInfo } from 'node:net';
import { startCollector, type RunningCollector } from '../../collector/index.js';
import { batcherAuditWriter } from '../../collector/audit.js';
import { inForce, stamp, type AuditSink } from '../../config/audit.js';
import { auditConfig, COLLECTOR_DIFF } from '../../config/audit-diff.js';
import { isLoopbackHost } from '../../config/secret.js';
import { buildSloServer, recordCanaryEvents, SloLoop, WeightsPublisher, type AlertState, type SloSnapshot } from '../../slo/index.js';
import type { BudgetFired } from '../../slo/budgets.js';
import { openLeadership, type Leadership } from '../../slo/leader.js';
import { providerHealth, statusView } from '../../slo/status.js';
import { providerRules } from '../../gateway/providers/index.js';
import type { CommonFlags } from '../args.js';
import { liveCollectorConfig, type LiveConfig } from '../reload.js';
import { boundHeapGrowth } from '../heap.js';

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

/**
 * What the leader leaves for followers after each evaluation: its status view (provider health
 * included, from its store), weights and alerts. A failed write is logged; followers keep
 * showing the previous one until its TTL.
 */
function sharer(leadership: Leadership, running: RunningCollector, publisher: WeightsPublisher, configVersion: () => number): (snap: SloSnapshot, alerts: AlertState[], budgets: BudgetFired[]) => Promise<void> {
  return async (snap, alerts, budgets) => {
    const providers = await providerHealth(running.store.client, snap.at).catch(() => []);
    const status = statusView(snap, providers, publisher.snapshot, configVersion(), leadership.info());
    await leadership.publish({ leaderId: leadership.id, at: snap.at, status, weights: publisher.snapshot, alerts, budgets }).catch((err: unknown) => log(`SLO leadership: cannot publish results for followers (${err instanceof Error ? err.message : String(err)})`));
  };
}

/**
 * The SLO engine beside the collector: same store, its own loop and status server. SLOs, alerting,
 * routes and canaries are read from the config in force at each evaluation (cli/reload.ts). With
 * `state.redis` several collectors run one each, and only the holder of the `slo-leader` lease
 * evaluates, notifies, publishes weights and steps canaries (slo/leader.ts).
 */
async function startSloEngine(live: LiveConfig, running: RunningCollector, port: number | undefined, audit: AuditSink): Promise<{ url: string; count: number; stop: () => Promise<void> }> {
  const config = live.store.current.config;
  const host = config.telemetry.collector.host;
  const intervalMs = config.slo.interval_s * 1000;
  const onLeadership = (leading: boolean, why: string) => audit([{ event: leading ? 'leader_acquired' : 'leader_lost', subject: leadership.id, detail: { why } }]);
  const { leadership, close: closeLeadership } = openLeadership(config.state, intervalMs, log, onLeadership);
  const publisher = new WeightsPublisher({
    client: running.store.client,
    routes: () => live.settings().adaptiveRoutes,
    budget: (route) => live.settings().budget(route),
    cfg: () => live.settings().adaptive,
    canaries: () => live.settings().canaries,
    onCanary: recordCanaryEvents(running.store.client, log, audit),
  });
  await publisher.load().catch(() => undefined);
  const configVersion = () => live.store.current.version;
  const loop = new SloLoop({
    client: running.store.client,
    specs: () => live.settings().specs,
    alerting: () => live.settings().alerting,
    budgets: () => live.settings().budgets,
    intervalMs,
    generatorURL: `http://${host}:${port ?? config.slo.port}/`,
    log,
    leadership,
    audit,
    onEvaluated: sharer(leadership, running, publisher, configVersion),
    onTakeover: (shared) => {
      if (shared !== undefined) publisher.adopt(shared.weights);
    },
  });
  const app = buildSloServer(loop, running.store.client, () => publisher.snapshot, { token: config.slo.token, configVersion, leadership: () => leadership.info(), shared: () => leadership.shared() });
  await app.listen({ host, port: port ?? config.slo.port });
  const { port: bound } = app.server.address() as AddressInfo;
  loop.start();
  const offReload = live.store.onChange(() => loop.refresh());
  const weightsTimer = setInterval(() => {
    // Followers neither publish weights nor step canaries: the leader's snapshot is what they serve.
    if (!loop.leading) return;
    publisher
      .tick()
      .then((changes) => changes.forEach((c) => log(`weight ${c.key}: ${c.from.toFixed(2)} → ${c.to.toFixed(2)} (${c.reason})`)))
      .catch((err: unknown) => log(`weights evaluation failed (will retry): ${err instanceof Error ? err.message : String(err)}`));
  }, intervalMs);
  weightsTimer.unref();
  return {
    url: `http://${host}:${bound}`,
    count: live.settings().specs.length,
    stop: async () => {
      offReload();
      clearInterval(weightsTimer);
      await app.close();
      await loop.stop();
      // Released at once, so another collector leads at its next tick rather than after the TTL.
      await leadership.resign();
      await closeLeadership();
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
  const live = liveCollectorConfig(flags, log);
  const cfg = live.store.current.config.telemetry;
  // The same bound as the gateway's: the collector's heap holds each export's rows until their insert.
  const heap = boundHeapGrowth(live.store.current.config.server.heap_growth_percent);
  if (heap !== undefined) log(heap);
  const managed = process.send !== undefined;
  const where = cfg.store.url === undefined ? `embedded ClickHouse (chDB) in ${cfg.store.path}` : `ClickHouse at ${new URL(cfg.store.url).host}`;
  log(`store: ${where}`);
  const host = flags.host ?? cfg.collector.host;
  if (cfg.collector.token === undefined && !isLoopbackHost(host)) {
    // The config check covers telemetry.collector.host; --host can move the listener past it.
    const message = `refusing to listen on ${host} without telemetry.collector.token: anyone reaching it could forge spans and read the store`;
    log(message);
    process.send?.({ type: 'failed', message });
    live.store.close();
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
    live.store.close();
    return 1;
  }
  // The collector's own audit events: its config loads and reloads (with the weight pins it
  // enforces), and the SLO engine's alerts, canary steps and leadership changes.
  const writeAudit = batcherAuditWriter(running.batcher, log);
  const offAudit = auditConfig(live.store, { source: 'collector' }, COLLECTOR_DIFF, writeAudit);
  const engineAudit: AuditSink = (events, at) => writeAudit(stamp({ source: 'collector', config: () => inForce(live.store.current) }, events, 'slo engine', at));
  const slo = await startSloEngine(live, running, flags.sloPort, engineAudit);
  const markers = writeMarkers(cfg, running, slo.url);
  process.send?.({ type: 'ready', url: running.url, slo: slo.url });
  log(`listening on ${running.url} (OTLP/HTTP: /v1/traces, /v1/metrics)`);
  log(`SLO engine: ${slo.count} SLO(s), status page on ${slo.url}/`);
  await stopSignal(managed);
  offAudit();
  live.store.close();
  await stopWithin(cfg.flush_timeout_ms, slo, running);
  for (const file of markers) rmSync(file, { force: true });
  log('stopped');
  process.disconnect?.();
  // Past the bound an insert may still hold a socket or a timer: it must not hold the process.
  setTimeout(() => process.exit(0), 500).unref();
  return 0;
}

/**
 * Shutdown with a deadline: exports in flight finish (their rows reach the spool), the last
 * insert gets `ms`; one ClickHouse has not taken by then stays in the spool, which the next
 * start replays (acknowledged rows are on disk before the 200, so none is lost).
 */
async function stopWithin(ms: number, slo: { stop: () => Promise<void> }, running: RunningCollector): Promise<void> {
  const started = performance.now();
  log(`flushing and stopping (at most ${ms} ms: telemetry.flush_timeout_ms)…`);
  const done = (async () => {
    await slo.stop();
    await running.close();
  })();
  const inTime = await Promise.race([done.then(() => true, () => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  const took = Math.round(performance.now() - started);
  if (inTime) log(`flushed in ${took} ms`);
  else log(`the last insert did not finish in ${ms} ms: its rows stay in the spool (${running.batcher.spoolBytes} bytes), replayed at the next start`);
}
