import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOAD_CPU, SERVER_CPU, root, startKeel, startNode, startProcess, type Proc } from './proc.js';

/**
 * The processes a bench talks to: the lean upstream, a collector with embedded ClickHouse,
 * and Keel gateways with telemetry off or on. Every gateway serves the same routes:
 * - `bench`: one target, non-streaming answers (12 tokens)
 * - `stream`: 50 tokens, 5 ms apart
 * - `retry`: the target fails each request once; one retry, no backoff
 * - `fallback`: the first target always fails; no retry, one fallback
 */
export const MODELS = { fast: 'fast', stream: 'fast;tokens=50;itl_ms=5', failOnce: 'fast;fault=fail_once', fail: 'fast;fault=fail' } as const;

export const dist = join(root, 'dist', 'bench');

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'keel-bench-'));
}

export function startUpstream(cpu = LOAD_CPU): Promise<Proc> {
  return startNode(join(dist, 'upstream.js'), ['--port', '0'], /upstream listening on (http:\/\/\S+)/, { cpu });
}

export function startSimulator(dir: string, cpu = LOAD_CPU): Promise<Proc> {
  return startKeel(['simulator', '--port', '0'], /listening on (http:\/\/\S+)/, { cwd: dir, cpu });
}

// Breakers that never open: the fallback cell must fail over on every request, not skip the dead target.
const NO_BREAKER = '{ consecutive_failures: 1000000000, min_requests: 1000000000 }';

/** The bench's client key when governance is on (bench/governance.ts). */
export const BENCH_KEY = 'keel-bench-governance-key-0123456789';

/**
 * Issue 15's stages on the `bench` route, as keel.example.yaml has them: a key with a team,
 * RPM/TPM far above the bench's rate (checked and counted, never hit), day and month budgets
 * far above its spend (reserved and reconciled on every request), and a secrets guardrail on
 * the request plus a PII one on the answer.
 */
function governanceLines(): string[] {
  return [
    'auth:',
    `  keys: [{ id: bench, key: "${BENCH_KEY}", team: bench, routes: [bench, stream], limits: { rpm: 100000000, tpm: 100000000000 }, budgets: [{ usd: 1000000000, period: day }] }]`,
    '  teams: { bench: { budgets: [{ usd: 1000000000, period: month }] } }',
    'guardrails:',
    '  no-secrets: { detect: [secrets], direction: in, action: block }',
    '  pii-out: { detect: [email, payment_card], direction: out, action: redact }',
    'prices: { fast: { input: 0.15, output: 0.6 } }',
  ];
}

/** `redis`: the state layer (DESIGN.md §9) in Redis, so breakers are shared; absent: in-process. */
export function keelConfig(dir: string, name: string, upstream: string, telemetry: boolean, collectorPort: number, redis?: RedisState, governance = false, guardStream = false, cache = false, assemble = false, extraYaml: readonly string[] = []): string {
  const target = (model: string) => `{ provider: up, model: "${model}" }`;
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      'providers:',
      `  up: { type: openai-compatible, base_url: "${upstream}/v1", auth: none }`,
      'routes:',
      `  bench: { targets: [${target(MODELS.fast)}]${governance ? ', guardrails: [no-secrets, pii-out]' : ''}${cache ? ', cache: { ttl_s: 300 }' : ''}${assemble ? ', assemble_streams: true' : ''} }`,
      `  stream: { targets: [${target(MODELS.stream)}]${guardStream ? ', guardrails: [stream-secrets, stream-pii]' : ''} }`,
      `  retry: { targets: [${target(MODELS.failOnce)}], retries: { attempts: 1, backoff_ms: 0 }, breaker: ${NO_BREAKER} }`,
      `  fallback: { targets: [${target(MODELS.fail)}], fallbacks: [${target(MODELS.fast)}], retries: { attempts: 0 }, breaker: ${NO_BREAKER} }`,
      'telemetry:',
      `  enabled: ${telemetry}`,
      `  collector: { port: ${collectorPort}, spool_dir: ${join(dir, 'spool')} }`,
      `  store: { path: ${join(dir, 'data')} }`,
      'slo: { port: 0 }',
      ...(governance ? governanceLines() : []),
      ...(guardStream ? ['guardrails:', '  stream-secrets: { detect: [secrets], direction: out, action: block }', '  stream-pii: { detect: [email, payment_card, phone], direction: out, action: redact }'] : []),
      ...(redis === undefined ? [] : [`state: { redis: { url: "${redis.url}"${redis.deadlineMs === undefined ? '' : `, deadline_ms: ${redis.deadlineMs}`} } }`]),
      ...extraYaml,
      '',
    ].join('\n'),
  );
  return path;
}

/**
 * The collector (storage, like a tracing backend) runs on the load core by default: the
 * server core is the proxy's budget, the same for Keel and Portkey; its CPU is reported apart.
 */
export async function startCollector(dir: string, upstream: string, cpu = LOAD_CPU): Promise<Proc> {
  return startKeel(['collector', '--config', keelConfig(dir, 'collector.yaml', upstream, true, 0), '--slo-port', '0'], /listening on (http:\/\/\S+) \(OTLP/, { cwd: dir, cpu });
}

export interface GatewayOptions {
  telemetry: boolean;
  collectorPort?: number;
  cpu?: number;
  /** e.g. ['--cpu-prof', '--cpu-prof-dir=…'] */
  nodeArgs?: string[];
  /** Another checkout's bin/keel.js (bench/ab.ts); default this one. */
  bin?: string;
  /** Config file name, when several gateways share a folder. */
  name?: string;
  /** state.redis: shared state in this Redis (bench/state.ts). */
  redis?: RedisState;
  /** Keys, limits, budgets and guardrails on the bench route (bench/governance.ts). */
  governance?: boolean;
  /** Answer guardrails (secrets block, PII redact) on the stream route (bench/guardrail-stream.ts). */
  guardStream?: boolean;
  /** An exact response cache on the bench route: requests with distinct bodies take its miss path (lookup, capture, store). */
  cache?: boolean;
  /** The bench route's non-streaming requests are streamed upstream and assembled (route assemble_streams). */
  assemble?: boolean;
  /** Top-level config lines appended as they are (e.g. `cache: { max_bytes: 1048576 }`). */
  extraYaml?: readonly string[];
}

/** state.redis.url, and deadline_ms when not the default. */
export interface RedisState {
  url: string;
  deadlineMs?: number;
}

export function startGateway(dir: string, upstream: string, o: GatewayOptions): Promise<Proc> {
  const cfg = keelConfig(dir, o.name ?? `gateway-${o.telemetry ? 'full' : 'bare'}.yaml`, upstream, o.telemetry, o.collectorPort ?? 0, o.redis, o.governance, o.guardStream, o.cache, o.assemble, o.extraYaml);
  return startKeel(['gateway', '--config', cfg, '--port', '0'], /gateway listening on (http:\/\/\S+)/, { cwd: dir, cpu: o.cpu ?? SERVER_CPU, nodeArgs: o.nodeArgs, bin: o.bin });
}

/** A collector and one Keel gateway sending it full telemetry. */
export async function startKeelWithCollector(dir: string, upstream: string): Promise<{ collector: Proc; keel: Proc }> {
  const collector = await startCollector(dir, upstream);
  const keel = await startGateway(dir, upstream, { telemetry: true, collectorPort: Number(new URL(collector.url).port) });
  return { collector, keel };
}

/** An OTLP endpoint that stores nothing (bench/otlp-sink.ts), on the load core like the collector. */
export function startOtlpSink(cpu = LOAD_CPU): Promise<Proc> {
  return startNode(join(dist, 'otlp-sink.js'), ['--port', '0'], /otlp sink listening on (http:\/\/\S+)/, { cpu });
}

/** A loopback port free right now (redis-server cannot pick its own and say which). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/**
 * A throwaway redis-server on loopback, on the load core like the upstream (a remote Redis
 * costs the gateway its round trips, not its CPU): no persistence, nothing kept after.
 */
export async function startRedis(cpu = LOAD_CPU): Promise<Proc> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'];
  const p = await startProcess('redis-server', args, /(Ready) to accept connections/, { cpu, label: 'redis-server' });
  return { ...p, url: `redis://127.0.0.1:${port}` };
}

/** The floor reference: a bare node:http + undici pass-through (bench/floor-proxy.ts). */
export function startFloor(upstream: string, cpu = SERVER_CPU): Promise<Proc> {
  return startNode(join(dist, 'floor-proxy.js'), ['--port', '0', '--upstream', upstream], /floor proxy listening on (http:\/\/\S+)/, { cpu });
}

/** The Portkey gateway from npm, bound to 127.0.0.1 by the loopback preload. */
export function startPortkey(cpu = SERVER_CPU): Promise<Proc> {
  const script = join(root, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  return startNode(script, ['--port=0', '--headless'], /portkey listening on (http:\/\/\S+)/, {
    cpu,
    nodeArgs: ['--import', join(dist, 'lib', 'loopback.js')],
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

/** Headers that send a Portkey request to the upstream as an OpenAI-compatible provider. */
export function portkeyHeaders(upstream: string): Record<string, string> {
  return { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${upstream}/v1` };
}

/** Spans a Keel gateway dropped so far, all destinations (keel_telemetry_dropped_total on /metrics). */
export async function droppedSpans(gatewayUrl: string): Promise<number> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  return [...text.matchAll(/^keel_telemetry_dropped_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}
