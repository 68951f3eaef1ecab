import { performance } from 'node:perf_hooks';
import { ConfigStore, resolveConfigPath } from '../../config/index.js';
import { auditConfig, GATEWAY_DIFF } from '../../config/audit-diff.js';
import { isLoopbackHost, openRelayMessage, type KeelConfig } from '../../config/schema.js';
import { buildGateway } from '../../gateway/index.js';
import { Drain, drainGateway, type DrainReport } from '../../gateway/http/drain.js';
import { adminUrl } from '../../gateway/http/metrics.js';
import type { FlushReport } from '../../gateway/telemetry/flush.js';
import { providerRules } from '../../gateway/providers/index.js';
import { closeUpstreams } from '../../gateway/upstream/send.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { openState, type SharedState } from '../../gateway/state/index.js';
import { pollWeights } from '../../gateway/routing/weights-poll.js';
import { WeightsStore } from '../../gateway/routing/weights.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { startChildCollector, type ChildCollector } from './child-collector.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import type { CommonFlags } from '../args.js';
import { realProvidersConfig, SIMULATED_MODELS, simulatedConfig } from '../default-config.js';
import { printTryIt } from '../try-it.js';
import { boundHeapGrowth } from '../heap.js';

interface Source {
  store: ConfigStore;
  /** The config file, when there is one (the child collector reads the same). */
  path: string | undefined;
  simulator: Simulator | undefined;
  announce: string;
}

const log = (msg: string) => process.stderr.write(`keel: ${msg}\n`);

async function configSource(flags: CommonFlags, forceSimulated: boolean): Promise<Source> {
  const path = forceSimulated ? undefined : resolveConfigPath(flags.config);
  if (path !== undefined) {
    const store = ConfigStore.fromFile(path, { ...providerRules, log });
    store.watch();
    return { store, path, simulator: undefined, announce: `config ${path} (hot reload on change and SIGHUP)` };
  }
  const real = forceSimulated ? undefined : realProvidersConfig(process.env);
  if (real !== undefined) {
    return { store: ConfigStore.fromValue(real, 'environment'), path: undefined, simulator: undefined, announce: 'real providers from OPENAI_API_KEY / ANTHROPIC_API_KEY (no keel.yaml)' };
  }
  const simulator = await startSimulator({ behaviours: SIMULATED_MODELS });
  const store = ConfigStore.fromValue(simulatedConfig(simulator.url, flags.port ?? 8080), 'built-in demo');
  const announce = `SIMULATED providers at ${simulator.url} — no keel.yaml and no provider keys found.\n      Answers are generated locally; set OPENAI_API_KEY / ANTHROPIC_API_KEY or write keel.yaml for real providers.`;
  return { store, path: undefined, simulator, announce };
}

/**
 * Where spans go: `keel start`/`demo` run their own collector as a child process;
 * `keel gateway` sends to the configured one (scale-out: collectors run apart).
 */
async function telemetryFor(flags: CommonFlags, mode: 'start' | 'gateway' | 'demo', source: Source, state: SharedState): Promise<{ telemetry: Telemetry; health: HealthRegistry; collector: ChildCollector | undefined; sloUrl: string | undefined }> {
  const cfg = source.store.current.config.telemetry;
  const health = new HealthRegistry(Date.now, { state, log });
  let collector: ChildCollector | undefined;
  let collectorUrl: string | undefined;
  let sloUrl: string | undefined;
  if (cfg.enabled && mode !== 'gateway') {
    const args = [
      ...(source.path === undefined ? [] : ['--config', source.path]),
      ...(flags.collectorPort === undefined ? [] : ['--collector-port', String(flags.collectorPort)]),
      ...(flags.sloPort === undefined ? [] : ['--slo-port', String(flags.sloPort)]),
    ];
    log('starting the collector (embedded ClickHouse)…');
    collector = await startChildCollector(args);
    collectorUrl = collector.url;
    sloUrl = collector.sloUrl;
    if (sloUrl !== undefined) log(`SLO status page on ${sloUrl}/`);
  } else if (cfg.enabled) {
    collectorUrl = cfg.collector.url ?? `http://${cfg.collector.host}:${cfg.collector.port}`;
    sloUrl = source.store.current.config.slo.url ?? `http://${cfg.collector.host}:${source.store.current.config.slo.port}`;
  }
  let telemetry: Telemetry;
  try {
    telemetry = createTelemetry(cfg, { collectorUrl, breakers: () => health.breakers(), state: () => state.health() });
  } catch (err) {
    await collector?.stop();
    throw err;
  }
  if (collectorUrl !== undefined) log(`telemetry to ${collectorUrl}${cfg.export.length > 0 ? ` and ${cfg.export.length} more endpoint(s)` : ''}; metrics on /metrics`);
  return { telemetry, health, collector, sloUrl };
}

/**
 * Secure by default. The config check sees the file's host; this sees the one Keel will
 * really bind (--host, the built-in configs), before anything is started.
 */
function refuseOpenRelay(config: KeelConfig, host: string): string | undefined {
  if (config.auth !== undefined || isLoopbackHost(host)) return undefined;
  if (!config.server.allow_unauthenticated) return `refusing to start: ${openRelayMessage(host)}.`;
  log(`WARNING: no client keys (auth.keys) on ${host}: any caller who can reach it can use this gateway and its provider keys (server.allow_unauthenticated: true)`);
  return undefined;
}

/** `keel start` / `keel gateway` / `keel demo`: serve until SIGINT or SIGTERM, then drain and exit. */
export async function serve(flags: CommonFlags, mode: 'start' | 'gateway' | 'demo'): Promise<number> {
  const source = await configSource(flags, mode === 'demo');
  const { server } = source.store.current.config;
  const host = flags.host ?? server.host;
  const refusal = refuseOpenRelay(source.store.current.config, host);
  if (refusal !== undefined) {
    log(refusal);
    source.store.close();
    await source.simulator?.close();
    return 1;
  }
  // Read at start only: V8 applies it from the next full GC on, before anything is cached.
  const heap = boundHeapGrowth(server.heap_growth_percent);
  if (heap !== undefined) log(heap);
  // Read at start only (a reload cannot move breakers to another store mid-flight).
  const state = openState(source.store.current.config.state, log);
  let t: Awaited<ReturnType<typeof telemetryFor>>;
  try {
    t = await telemetryFor(flags, mode, source, state);
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    await state.close();
    source.store.close();
    await source.simulator?.close();
    return 1;
  }
  // Config loads and reloads, and the key, budget and limit changes they make, as keel.audit spans.
  auditConfig(source.store, { source: 'gateway' }, GATEWAY_DIFF, (records) => t.telemetry.audit(records));
  // Adaptive routes follow the SLO engine's weights: polled, swapped atomically, last one kept on failure.
  const weights = new WeightsStore();
  const poll = t.sloUrl === undefined ? undefined : pollWeights(`${t.sloUrl}/api/weights`, weights, source.store.current.config.slo.interval_s * 1000, log, source.store.current.config.slo.token);
  void poll?.pollNow();
  const drain = new Drain();
  const app = buildGateway({
    drain,
    config: source.store,
    weights,
    logger: { level: process.env.KEEL_LOG_LEVEL ?? 'info' },
    health: t.health,
    state,
    log,
    observer: t.telemetry.observer,
    onProbe: t.telemetry.probe,
    metrics: t.telemetry.metricsHandler,
  });
  log(`using ${source.announce}`);
  if (source.store.current.config.auth === undefined) log('no client keys configured (auth.keys): the gateway accepts any caller');
  const stopRequested = stopSignal();
  const address = await app.listen({ host, port: flags.port ?? server.port });
  const admin = adminUrl(app);
  if (admin !== undefined) log(`metrics on ${admin}/metrics (server.admin_port, loopback only)`);
  // Last, and on its own line: scripts and tests wait for it.
  log(`gateway listening on ${address}`);
  if (mode === 'demo' || source.simulator !== undefined) printTryIt(address, [...Object.keys(source.store.current.config.routes)]);
  await stopRequested;
  await shutdown({ app, drain, poll, telemetry: t.telemetry, collector: t.collector, source, health: t.health, state });
  return 0;
}

/**
 * The first SIGINT or SIGTERM. Listened for before anything announces the gateway: a SIGTERM
 * sent the moment it is up must drain it, not kill it. Both listeners go with the first, so a
 * second signal (an impatient Ctrl-C) kills the process at once, as signals do by default.
 */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * After every bounded step of the shutdown, a handle an abandoned export left behind (an
 * exporter's retry timer, a socket) must not hold the process: it exits this long after.
 */
const EXIT_BACKSTOP_MS = 500;

/** Closing the upstream pools waits for requests still on them; after the cut there should be none. */
const UPSTREAMS_MS = 1_000;

interface Running {
  app: ReturnType<typeof buildGateway>;
  drain: Drain;
  poll: ReturnType<typeof pollWeights> | undefined;
  telemetry: Telemetry;
  collector: ChildCollector | undefined;
  source: Source;
  health: { close(): void };
  state: SharedState;
}

/**
 * Shutdown with a deadline, gateway first and collector last (it receives the gateway's last
 * spans): stop accepting, drain for server.shutdown_grace_ms, cut the rest, flush telemetry
 * for at most telemetry.flush_timeout_ms, then stop the collector and exit.
 */
async function shutdown(r: Running): Promise<void> {
  const started = performance.now();
  const { server, telemetry } = r.source.store.current.config;
  log(`shutting down: not accepting; requests in flight get up to ${server.shutdown_grace_ms} ms (server.shutdown_grace_ms)…`);
  log(drained(await drainGateway(r.app, r.drain, server.shutdown_grace_ms)));
  r.poll?.stop();
  r.health.close();
  await Promise.race([r.state.close(), new Promise((resolve) => setTimeout(resolve, UPSTREAMS_MS).unref())]);
  log(flushed(await r.telemetry.shutdown(), telemetry.flush_timeout_ms));
  await Promise.race([closeUpstreams(), new Promise((resolve) => setTimeout(resolve, UPSTREAMS_MS).unref())]);
  log(`gateway stopped in ${Math.round(performance.now() - started)} ms`);
  if (r.collector !== undefined) {
    log('stopping the collector…');
    // Its own shutdown is bounded by the same flush timeout; past that (and a margin for chDB to close) it is hung.
    await r.collector.stop(telemetry.flush_timeout_ms + 10_000);
  }
  r.source.store.close();
  await r.source.simulator?.close();
  log('stopped');
  setTimeout(() => process.exit(0), EXIT_BACKSTOP_MS).unref();
}

function drained(d: DrainReport): string {
  if (d.cut > 0) return `drained in ${d.ms} ms: ${d.cut} request(s) still running at the grace were ended (gateway_shutdown)`;
  return `drained in ${d.ms} ms (${d.inFlight} request(s) were in flight)`;
}

function flushed(f: FlushReport, timeoutMs: number): string {
  const lost = [f.spansDropped > 0 ? `${f.spansDropped} span(s)` : '', f.metricsDropped ? 'the last metrics export' : ''].filter((x) => x !== '').join(' and ');
  const why = f.unreachable.length > 0 ? ` (unreachable: ${f.unreachable.join(', ')})` : f.ms >= timeoutMs ? ` (telemetry.flush_timeout_ms ${timeoutMs} ms passed)` : '';
  return lost === '' ? `telemetry flushed in ${f.ms} ms` : `telemetry flush: ${lost} dropped in ${f.ms} ms${why}`;
}
