import { ConfigStore, resolveConfigPath } from '../../config/index.js';
import { buildGateway } from '../../gateway/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { closeUpstreams } from '../../gateway/upstream/send.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import type { CommonFlags } from '../args.js';
import { realProvidersConfig, SIMULATED_MODELS, simulatedConfig } from '../default-config.js';
import { printTryIt } from '../try-it.js';

interface Source {
  store: ConfigStore;
  simulator: Simulator | undefined;
  announce: string;
}

const log = (msg: string) => process.stderr.write(`keel: ${msg}\n`);

async function configSource(flags: CommonFlags, forceSimulated: boolean): Promise<Source> {
  const path = forceSimulated ? undefined : resolveConfigPath(flags.config);
  if (path !== undefined) {
    const store = ConfigStore.fromFile(path, { ...providerRules, log });
    store.watch();
    return { store, simulator: undefined, announce: `config ${path} (hot reload on change and SIGHUP)` };
  }
  const real = forceSimulated ? undefined : realProvidersConfig(process.env);
  if (real !== undefined) {
    return { store: ConfigStore.fromValue(real, 'environment'), simulator: undefined, announce: 'real providers from OPENAI_API_KEY / ANTHROPIC_API_KEY (no keel.yaml)' };
  }
  const simulator = await startSimulator({ behaviours: SIMULATED_MODELS });
  const store = ConfigStore.fromValue(simulatedConfig(simulator.url, flags.port ?? 8080), 'built-in demo');
  const announce = `SIMULATED providers at ${simulator.url} — no keel.yaml and no provider keys found.\n      Answers are generated locally; set OPENAI_API_KEY / ANTHROPIC_API_KEY or write keel.yaml for real providers.`;
  return { store, simulator, announce };
}

/** `keel start` / `keel gateway` / `keel demo`: serve until SIGINT or SIGTERM, then drain and exit. */
export async function serve(flags: CommonFlags, mode: 'start' | 'gateway' | 'demo'): Promise<number> {
  const source = await configSource(flags, mode === 'demo');
  const { server } = source.store.current.config;
  const app = buildGateway({ config: source.store, logger: { level: process.env.KEEL_LOG_LEVEL ?? 'info' } });
  log(`using ${source.announce}`);
  if (source.store.current.config.auth === undefined) log('no client keys configured (auth.keys): the gateway accepts any caller');
  const address = await app.listen({ host: flags.host ?? server.host, port: flags.port ?? server.port });
  // Last, and on its own line: scripts and tests wait for it.
  log(`gateway listening on ${address}`);
  if (mode === 'demo' || source.simulator !== undefined) printTryIt(address, [...Object.keys(source.store.current.config.routes)]);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log('shutting down: finishing in-flight requests…');
  await app.close();
  source.store.close();
  await closeUpstreams();
  await source.simulator?.close();
  log('stopped');
  return 0;
}
