import type { ClientKeyConfig } from '../../config/governance-schema.js';
import { globRegExp } from '../../config/globs.js';
import { effectiveHealthCheck, type EffectiveHealthCheck } from '../../config/health-check-schema.js';
import { hashKey } from '../../config/secret.js';
import type { Price } from '../pipeline/record.js';
import { CATALOGUE } from './catalogue.js';
import type { BreakerConfig, HedgeConfig, KeelConfig, ResponseLimits, Retries, RouteConfig, Timeouts } from '../../config/schema.js';
import { adapterFor, type AuthScheme, type ProviderAdapter } from '../providers/index.js';
import { buildRedactor, type Redactor } from '../redact.js';
import { compileRules, type ResolvedRule } from '../routing/rules.js';
import { extend } from '../objects.js';

/**
 * The gateway's view of one config snapshot, derived once per snapshot so the
 * hot path only does map look-ups: endpoints joined, auth headers built, client
 * keys hashed, timeouts merged with defaults.
 */
export interface ResolvedProvider {
  name: string;
  adapter: ProviderAdapter;
  baseUrl: string;
  /** Auth, version pins and configured extras. Holds secrets: never log it. */
  headers: Readonly<Record<string, string>>;
  query: string;
  /** Continues a trailing assistant message (adapter default or config). */
  prefill: boolean;
  /** Host and port of the base URL (OTel server.address / server.port). */
  address: string;
  port: number;
  /** gen_ai.provider.name: the adapter's well-known value, else the provider's config name. */
  genAiName: string;
}

export interface ResolvedTarget {
  provider: ResolvedProvider;
  model: string;
  weight: number;
  priority: number;
  contextWindow: number | undefined;
  /** USD per million tokens. */
  price: Price | undefined;
  /** The route's timeouts with this target's overrides. */
  timeouts: EffectiveTimeouts;
  /** How much this target may send back (the route's, else defaults). */
  responseLimits: EffectiveResponseLimits;
  /** Set when this target is rolling out as a canary: its first step's share, percent. */
  canaryFirstStep: number | undefined;
  /** Its active health check (the target's fields over its provider's); undefined: never probed. */
  healthCheck: EffectiveHealthCheck | undefined;
}

export type EffectiveTimeouts = Required<Timeouts>;
export type EffectiveResponseLimits = Required<ResponseLimits>;
export type EffectiveRetries = Required<Retries>;

export interface ResolvedRoute {
  name: string;
  strategy: RouteConfig['strategy'];
  targets: readonly ResolvedTarget[];
  fallbacks: readonly ResolvedTarget[];
  timeouts: EffectiveTimeouts;
  retries: EffectiveRetries;
  maxAttempts: number;
  breaker: BreakerConfig;
  hedge: HedgeConfig | undefined;
  /** How a stream broken after tokens goes on (config `continuation`; true is prefill). */
  continuation: 'off' | 'prefill' | 'regenerate';
  /** Non-streaming requests are streamed upstream and assembled (config `assemble_streams`). */
  assemble: boolean;
  /** Multiply target weights by the SLO engine's published snapshot. */
  adaptive: boolean;
  /** Requests of this route in flight at once (load shedding past it). */
  maxInFlight: number | undefined;
  /** Routing rules, compiled once per snapshot (gateway/routing/rules.ts). */
  rules: readonly ResolvedRule[];
}

/** A caller's virtual key as config declares it (auth.keys), resolved once per config snapshot. */
export interface ClientIdentity {
  id: string;
  team: string | undefined;
  customer: string | undefined;
  /** Tags for the key's spans. */
  metadata: Readonly<Record<string, string>>;
  /** Whether the key may call a route (auth.keys[].routes; absent: every route). */
  mayCall: (route: string) => boolean;
  /** ms epoch after which the key is refused; undefined: never. */
  expiresAtMs: number | undefined;
  disabled: boolean;
  config: ClientKeyConfig;
}

export interface Runtime {
  config: KeelConfig;
  version: number;
  routes: ReadonlyMap<string, ResolvedRoute>;
  /** sha256(key) → identity; undefined when the gateway is open. */
  clientKeys: ReadonlyMap<string, ClientIdentity> | undefined;
  /** Removes this snapshot's secrets (provider keys, client keys, admin token) and common key shapes from a text. */
  redact: Redactor;
}

/**
 * Defaults for every wait. Headers cover a whole non-streaming generation (the
 * body arrives with the headers), hence a minute; TTFT and idle are about
 * streams, where 30 s of silence is already an outage to the caller.
 */
export const DEFAULT_TIMEOUTS: EffectiveTimeouts = {
  connect_ms: 5_000,
  headers_ms: 60_000,
  ttft_ms: 30_000,
  idle_ms: 30_000,
  total_ms: 300_000,
};

/**
 * 32 MiB holds the largest real answers (long JSON outputs, n > 1) many times over; 1 MiB
 * per SSE event is far beyond any token chunk yet stops an unbounded line (nginx's
 * proxy_buffer and undici's maxResponseSize are the same idea).
 */
export const DEFAULT_RESPONSE_LIMITS: EffectiveResponseLimits = {
  max_bytes: 32 * 1024 * 1024,
  max_event_bytes: 1024 * 1024,
};

export const DEFAULT_RETRIES: EffectiveRetries = {
  attempts: 2,
  backoff_ms: 250,
  max_backoff_ms: 5_000,
  max_retry_after_ms: 30_000,
};

export { hashKey };

function authHeaders(scheme: AuthScheme, key: string | undefined): Record<string, string> {
  if (key === undefined || scheme === 'none') return {};
  switch (scheme) {
    case 'bearer':
      return { authorization: `Bearer ${key}` };
    case 'api-key':
      return { 'api-key': key };
    case 'x-api-key':
      return { 'x-api-key': key };
  }
}

function resolveProvider(name: string, cfg: KeelConfig['providers'][string]): ResolvedProvider {
  const adapter = adapterFor(cfg.type);
  const baseUrl = (cfg.base_url ?? adapter.defaultBaseUrl ?? '').replace(/\/+$/, '');
  const query = cfg.query === undefined ? '' : `?${new URLSearchParams(cfg.query).toString()}`;
  const headers = extend(extend(adapter.headers ?? {}, cfg.headers ?? {}), authHeaders(cfg.auth ?? adapter.defaultAuth, cfg.api_key));
  const url = new URL(baseUrl.replace('{model}', 'm'));
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
  return Object.freeze({
    name,
    adapter,
    baseUrl,
    headers: Object.freeze(headers),
    query,
    prefill: cfg.prefill ?? adapter.supportsPrefill,
    address: url.hostname,
    port,
    genAiName: adapter.genAiName ?? name,
  });
}

/** The URL of one operation for one target; `{model}` in the base URL is the Azure deployment slot. */
export function endpointUrl(target: ResolvedTarget, path: string): string {
  // Targets are per config snapshot and take one or two paths (chat, embeddings): the URL is built once, not per request.
  let byPath = endpoints.get(target);
  if (byPath === undefined) endpoints.set(target, (byPath = new Map<string, string>()));
  let url = byPath.get(path);
  if (url === undefined) {
    const base = target.provider.baseUrl.replace('{model}', encodeURIComponent(target.model));
    byPath.set(path, (url = `${base}${path}${target.provider.query}`));
  }
  return url;
}

const endpoints = new WeakMap<ResolvedTarget, Map<string, string>>();

/** Enough for two retries on the primary and two fallbacks; bounded so one request never storms. */
const DEFAULT_MAX_ATTEMPTS = 5;

function resolveRoute(name: string, r: RouteConfig, config: KeelConfig, providers: Map<string, ResolvedProvider>): ResolvedRoute {
  const timeouts = extend(extend(DEFAULT_TIMEOUTS, config.defaults.timeouts ?? {}), r.timeouts ?? {});
  const responseLimits = Object.freeze(extend(extend(DEFAULT_RESPONSE_LIMITS, config.defaults.response_limits ?? {}), r.response_limits ?? {}));
  const target = (t: RouteConfig['targets'][number]): ResolvedTarget => {
    const provider = providers.get(t.provider);
    if (provider === undefined) throw new Error(`route ${name} names unknown provider ${t.provider}`);
    return Object.freeze({
      provider,
      model: t.model,
      weight: t.weight,
      priority: t.priority,
      contextWindow: t.context_window ?? config.context_windows[t.model] ?? CATALOGUE[t.model]?.contextWindow,
      price: t.price ?? config.prices[t.model] ?? CATALOGUE[t.model]?.price,
      canaryFirstStep: t.canary?.steps[0],
      timeouts: extend(timeouts, t.timeouts ?? {}),
      responseLimits,
      healthCheck: effectiveHealthCheck(config.providers[t.provider]?.health_check, t.health_check),
    });
  };
  const targets = r.targets.map(target);
  const fallbacks = r.fallbacks.map(target);
  return {
    name,
    strategy: r.strategy,
    targets,
    fallbacks,
    timeouts,
    retries: extend(extend(DEFAULT_RETRIES, config.defaults.retries ?? {}), r.retries ?? {}),
    maxAttempts: r.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
    breaker: extend(config.defaults.breaker ?? {}, r.breaker ?? {}),
    hedge: r.hedge,
    continuation: r.continuation === true ? 'prefill' : r.continuation === false ? 'off' : r.continuation,
    assemble: r.assemble_streams,
    adaptive: r.adaptive,
    maxInFlight: r.max_in_flight,
    rules: compileRules(r.rules ?? [], [...targets, ...fallbacks]),
  };
}

export function buildRuntime(config: KeelConfig, version: number): Runtime {
  const providers = new Map<string, ResolvedProvider>();
  for (const [name, p] of Object.entries(config.providers)) providers.set(name, resolveProvider(name, p));
  const routes = new Map<string, ResolvedRoute>();
  for (const [name, r] of Object.entries(config.routes)) routes.set(name, resolveRoute(name, r, config, providers));
  const clientKeys = config.auth?.keys ? new Map(config.auth.keys.map((k) => [k.key_sha256 ?? hashKey(k.key ?? ''), resolveKey(k)])) : undefined;
  return { config, version, routes, clientKeys, redact: buildRedactor(configSecrets(config)) };
}

function resolveKey(k: ClientKeyConfig): ClientIdentity {
  const patterns = k.routes?.map(globRegExp);
  return {
    id: k.id,
    team: k.team,
    customer: k.customer,
    metadata: k.metadata,
    mayCall: patterns === undefined ? () => true : (route) => patterns.some((p) => p.test(route)),
    expiresAtMs: k.expires_at === undefined ? undefined : Date.parse(k.expires_at),
    disabled: k.disabled,
    config: k,
  };
}

/** Every secret a config holds that a provider or a log could echo back. */
function configSecrets(config: KeelConfig): string[] {
  const out: string[] = [];
  for (const p of Object.values(config.providers)) {
    if (p.api_key !== undefined) out.push(p.api_key);
  }
  for (const k of config.auth?.keys ?? []) if (k.key !== undefined) out.push(k.key);
  if (config.server.admin_token !== undefined) out.push(config.server.admin_token);
  return out;
}
