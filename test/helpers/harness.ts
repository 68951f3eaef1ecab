import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildConfigSchema, type KeelConfig } from '../../config/schema.js';
import { buildGateway, type ConfigSource, type GatewayOptions } from '../../gateway/index.js';
import type { CompletedRequest } from '../../gateway/pipeline/record.js';
import { providerRules } from '../../gateway/providers/index.js';
import { startSimulator, type BehaviourSpec, type Simulator, type SimulatorOptions } from '../../simulator/index.js';

/** The provider keys Keel is configured with; tests assert these (and only these) reach the simulator. */
export const OPENAI_KEY = 'sk-provider-openai-secret';
export const ANTHROPIC_KEY = 'sk-ant-provider-secret';

export interface Harness {
  sim: Simulator;
  app: FastifyInstance;
  url: string;
  records: CompletedRequest[];
  source: { current: { config: KeelConfig; version: number } };
  close(): Promise<void>;
}

/** Routes over the two simulated providers; tests add their own with `routes`. */
export function baseConfig(simUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    providers: {
      oai: { type: 'openai-compatible', base_url: `${simUrl}/v1`, api_key: OPENAI_KEY },
      ant: { type: 'anthropic', base_url: simUrl, api_key: ANTHROPIC_KEY },
    },
    routes: {
      'gpt-sim': { targets: [{ provider: 'oai', model: 'gpt-up' }] },
      'claude-sim': { targets: [{ provider: 'ant', model: 'claude-up' }] },
      embed: { targets: [{ provider: 'oai', model: 'embed-up' }] },
    },
    ...extra,
  };
}

export function parseConfig(raw: unknown): KeelConfig {
  return buildConfigSchema(providerRules.providerTypes, providerRules.requireBaseUrl).parse(raw);
}

export interface HarnessOptions {
  behaviours?: Record<string, BehaviourSpec>;
  /** Builds the raw config from the simulator URL; defaults to baseConfig. */
  config?: (simUrl: string) => Record<string, unknown>;
  /** Overrides the config source (e.g. a file-backed ConfigStore). */
  source?: (simUrl: string) => ConfigSource;
  /** Clock, randomness, weights for the gateway (tests compress time with these). */
  gateway?: Omit<GatewayOptions, 'config' | 'observer'>;
  simulator?: Omit<SimulatorOptions, 'behaviours'>;
  /** Also sees every finished request (telemetry under test). */
  observe?: (r: CompletedRequest) => void;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ requireKey: undefined, ...opts.simulator, behaviours: opts.behaviours ?? {} });
  const source = opts.source?.(sim.url) ?? { current: { config: parseConfig((opts.config ?? baseConfig)(sim.url)), version: 1 } };
  const records: CompletedRequest[] = [];
  const app = buildGateway({ ...opts.gateway, config: source, observer: (r) => {
    records.push(r);
    opts.observe?.(r);
  } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    sim,
    app,
    url: `http://127.0.0.1:${port}`,
    records,
    source: source,
    async close() {
      await app.close();
      await sim.close();
    },
  };
}

/** Waits until `check` holds (records are emitted just after the response ends). */
export async function eventually<T>(check: () => T | undefined, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
