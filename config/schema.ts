import { z } from 'zod';
import { sloBlockSchema } from './slo-schema.js';
import { checkSecret, hashKey, isLoopbackHost } from './secret.js';
import { cacheLimitsSchema, routeCacheSchema } from './cache-schema.js';
import { healthCheckSchema } from './health-check-schema.js';
import { authSchema, guardrailSchema, limitsSchema } from './governance-schema.js';
import { routeMatches } from './globs.js';
import { priceSchema, telemetrySchema } from './telemetry-schema.js';
import { checkRuleRefs, rulesSchema } from './rules-schema.js';

/** One placeholder/length rule for every secret; it lives in secret.ts so telemetry-schema.ts and slo-schema.ts use it without an import cycle. */
export { checkSecret, isLoopbackHost } from './secret.js';

/**
 * The keel.yaml schema. Strict everywhere: an unknown key is a typo until proven
 * otherwise. Provider `type` values are not listed here (config/ knows nothing of
 * the gateway's registry): `buildConfigSchema` takes them from the caller.
 */

const positiveMs = z.number().int().positive();

export const timeoutsSchema = z
  .object({
    /** TCP + TLS connect. */
    connect_ms: positiveMs.optional(),
    /** Request sent → response headers. */
    headers_ms: positiveMs.optional(),
    /** Request sent → first content token (streaming). */
    ttft_ms: positiveMs.optional(),
    /** Longest silence between two stream chunks. */
    idle_ms: positiveMs.optional(),
    /** Whole request, all attempts included. */
    total_ms: positiveMs.optional(),
  })
  .strict();

export const retriesSchema = z
  .object({
    attempts: z.number().int().min(0).max(10).optional(),
    backoff_ms: z.number().int().min(0).optional(),
    max_backoff_ms: z.number().int().min(0).optional(),
    /** Honour Retry-After, capped at this many milliseconds. */
    max_retry_after_ms: z.number().int().min(0).optional(),
  })
  .strict();

/**
 * Bounds on what a provider may send back (DESIGN.md §6: every buffer bounded). Past them
 * the answer is a malformed response (provider_malformed) and the request fails over.
 */
export const responseLimitsSchema = z
  .object({
    /** Largest non-streaming answer body read (default 32 MiB). */
    max_bytes: z.number().int().positive().optional(),
    /** Longest single SSE event (default 1 MiB). */
    max_event_bytes: z.number().int().positive().optional(),
  })
  .strict();

const targetSchema = z
  .object({
    provider: z.string().min(1),
    model: z.string().min(1),
    weight: z.number().min(0).default(1),
    /** Lower goes first with the `priority` strategy. */
    priority: z.number().int().default(0),
    /** Tokens of context; a context-length failure moves to a target with more. */
    context_window: z.number().int().positive().optional(),
    /** USD per million tokens: the `cost` strategy and cost attribution (else `prices`, else built-in). */
    price: priceSchema.optional(),
    timeouts: timeoutsSchema.optional(),
    /** Active health check of this target when idle; overrides its provider's, field by field. */
    health_check: healthCheckSchema.optional(),
    /** Roll this target out gradually: its share of the route steps up while its burn stays near the baseline's. */
    canary: z
      .object({
        /** Percent of the route's traffic per step, ending at 100. */
        steps: z.array(z.number().gt(0).max(100)).min(1).default([1, 5, 25, 50, 100]),
        /** How long each step must hold before the next. */
        step_duration: z.string().regex(/^\d+(m|h|d)$/, 'a duration such as 10m or 1h').default('10m'),
        /** Roll back when the canary burns more than this many times the baseline (and more than its budget). */
        gate: z.number().min(1).default(2),
        /** Attempts on the canary before a step can be judged. */
        min_attempts: z.number().int().min(1).default(20),
      })
      .strict()
      .optional(),
  })
  .strict();

export const breakerSchema = z
  .object({
    /** Open when failures / requests in the window reach this ratio… */
    error_ratio: z.number().gt(0).max(1).optional(),
    /** …and the window holds at least this many requests. */
    min_requests: z.number().int().min(1).optional(),
    window_s: z.number().positive().optional(),
    /** Open after this many failures in a row, whatever the ratio. */
    consecutive_failures: z.number().int().min(1).optional(),
    /** How long an open breaker sends nothing before a probe. */
    open_s: z.number().positive().optional(),
  })
  .strict();

export const hedgeSchema = z
  .object({
    /** Start the next target when no first token arrived by then; `p95` uses the target's recent p95 TTFT. */
    after_ms: z.union([z.number().int().positive(), z.literal('p95')]),
    /** At most this share of requests may be hedged (bounds the extra cost). */
    max_share: z.number().gt(0).max(1).default(0.1),
  })
  .strict();

const routeSchema = z
  .object({
    strategy: z.enum(['weighted', 'priority', 'latency', 'cost']).default('weighted'),
    targets: z.array(targetSchema).min(1, 'a route needs at least one target'),
    /** Tried in order once the targets are exhausted. */
    fallbacks: z.array(targetSchema).default([]),
    timeouts: timeoutsSchema.optional(),
    retries: retriesSchema.optional(),
    /** Upper bound on upstream attempts for one request, all targets together. */
    max_attempts: z.number().int().min(1).max(20).optional(),
    breaker: breakerSchema.optional(),
    hedge: hedgeSchema.optional(),
    response_limits: responseLimitsSchema.optional(),
    /** Requests of this route in flight at once; past it, 503 + Retry-After (load shedding). */
    max_in_flight: z.number().int().positive().optional(),
    /**
     * A stream that broke after tokens: `true`/`prefill` continues it on a fallback that accepts an
     * assistant prefill; `regenerate` also, where none does, asks another target for the whole
     * answer and relays only what follows the part sent, if the new answer starts with exactly
     * that part; `false` ends it with the error event.
     */
    continuation: z.union([z.boolean(), z.enum(['prefill', 'regenerate'])]).default(true),
    /**
     * Stream non-streaming requests upstream and assemble the JSON answer, so ttft_ms and idle_ms
     * judge them too (a provider slow to start fails over after ttft_ms, not headers_ms). Off by
     * default: every chunk the provider streams costs gateway CPU a JSON body does not (bench:
     * overhead, the assemble_streams rows: 0.26–0.35 ms per 12-token answer at concurrency 64, ~2.5
     * ms at concurrency 1, growing with the answer's length).
     */
    assemble_streams: z.boolean().default(false),
    /** Accept the SLO engine's weight multipliers for this route's targets. */
    adaptive: z.boolean().default(false),
    /** RPM/TPM for the whole route, over every key (issue 15 §3). */
    limits: limitsSchema.optional(),
    /** Guardrail rules (by name, under `guardrails:`) every request of this route passes. */
    guardrails: z.array(z.string().min(1)).default([]),
    /**
     * Output tokens a request may ask for when it sets no max_tokens: what budgets and TPM
     * reserve before the call, and what Keel sends upstream as the cap.
     */
    max_output_tokens: z.number().int().positive().default(4096),
    /** The response cache for this route (issue 16); absent: no caching. */
    cache: routeCacheSchema.optional(),
    /** Routing rules, in order, before the strategy (config/rules-schema.ts; README: Routing rules). */
    rules: rulesSchema.optional(),
  })
  .strict();

const keyRef = z.string().min(1);

function providerSchema(types: readonly [string, ...string[]]) {
  return z
    .object({
      type: z.enum(types),
      /** Defaults to the provider type's public endpoint; may contain `{model}` (Azure deployments). */
      base_url: z.url({ protocol: /^https?$/ }).optional(),
      api_key: keyRef.optional(),
      /** Extra headers sent upstream (e.g. OpenRouter attribution). Never logged. */
      headers: z.record(z.string(), z.string()).optional(),
      /** Extra query parameters (e.g. Azure `api-version`). */
      query: z.record(z.string(), z.string()).optional(),
      /** How the key is sent; defaults to the provider type's own scheme. */
      auth: z.enum(['bearer', 'api-key', 'x-api-key', 'none']).optional(),
      /** The endpoint continues a trailing assistant message (stream continuation may use it); defaults to the type's. */
      prefill: z.boolean().optional(),
      /** Active health checks (synthetic probes) of this provider's targets while idle. */
      health_check: healthCheckSchema.optional(),
    })
    .strict();
}

/** Every default here is a bound a hostile caller would otherwise not have (README: Limits and hostile input). */
const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Largest accepted request body; larger gets 413 in the caller's format. */
    body_limit_bytes: z.number().int().positive().default(10 * 1024 * 1024),
    /** Deepest JSON nesting accepted; deeper gets 400 before any routing (a real request nests < 10). */
    max_json_depth: z.number().int().min(1).max(1000).default(64),
    /** The caller must send its request headers within this (else 408 and the socket closed). */
    headers_timeout_ms: positiveMs.default(10_000),
    /** …and its whole request (headers and body) within this; else 408 and the socket closed. */
    request_timeout_ms: positiveMs.default(30_000),
    /**
     * An idle keep-alive connection is closed after this. Longer than the 60 s idle timeout of
     * common load balancers (ALB, nginx), so the balancer, not Keel, closes first and never
     * reuses a socket Keel is closing.
     */
    keep_alive_timeout_ms: positiveMs.default(72_000),
    /** Largest request header section (Node's default, nginx's large_client_header_buffers order); larger gets 431. */
    max_header_bytes: z.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
    /** A streaming caller that reads nothing for this long is cut (caller_stalled), and the upstream released. */
    write_timeout_ms: positiveMs.default(30_000),
    /** Requests in flight at once; past it, 503 + Retry-After instead of an unbounded queue. */
    max_in_flight: z.number().int().positive().optional(),
    /**
     * On SIGTERM/SIGINT, how long requests in flight may still run; streams still open then end
     * with an in-band gateway_shutdown error. Keep it plus telemetry.flush_timeout_ms under the
     * orchestrator's kill timeout (Docker stop_grace_period, Kubernetes terminationGracePeriodSeconds).
     */
    shutdown_grace_ms: z.number().int().min(0).default(20_000),
    /** Serve without `auth.keys` on a non-loopback address (an open relay spending your provider keys). */
    allow_unauthenticated: z.boolean().default(false),
    /** Bearer token for GET /metrics on the main port (else /metrics is only on admin_port, or on a loopback gateway). */
    admin_token: z.string().optional(),
    /** Serve /metrics (no token needed) on this port, bound to 127.0.0.1; the main port then has no /metrics. */
    admin_port: z.number().int().min(0).max(65535).optional(),
    /**
     * The JS heap may grow this far (percent) past what the last full GC kept before collecting
     * again, in the gateway and in the collector (they read the same file); 0 (the default)
     * leaves it to V8, which allows up to 300 % on a large machine. 50 cut RSS by a third here but
     * tripled p99 at 64 connections (more frequent full GCs): cli/heap.ts, bench/reading.md.
     */
    heap_growth_percent: z.number().int().min(0).max(1000).default(0),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.admin_token !== undefined) checkSecret(s.admin_token, ['admin_token'], ctx);
    // Node refuses to start a server whose headers deadline outlives its request deadline.
    if (s.headers_timeout_ms > s.request_timeout_ms) {
      ctx.addIssue({ code: 'custom', path: ['headers_timeout_ms'], message: `must not exceed request_timeout_ms (${s.request_timeout_ms})` });
    }
  });

/** What to tell an operator who exposed an open gateway; shared by `keel check` and the start-time refusal. */
export function openRelayMessage(host: string): string {
  return (
    `${host} is not a loopback address and auth.keys is not set: anyone who can reach it could spend your provider keys. ` +
    'Add client keys under auth.keys, listen on 127.0.0.1, or set server.allow_unauthenticated: true if something in front authenticates callers'
  );
}

/**
 * Where gateway replicas share state (DESIGN.md §9): absent, each process keeps its own (one
 * replica); `redis` for several. 20 ms is far above a loopback or same-zone Redis round trip
 * (~0.1–1 ms) and far below anything a caller would notice: past it the call falls back.
 */
export const stateSchema = z
  .object({
    redis: z
      .object({
        url: z.url({ protocol: /^rediss?$/ }),
        deadline_ms: z.number().int().positive().max(1000).default(20),
        key_prefix: z.string().default('keel:'),
        // Local leases on budgets and rate limits far from their limit (gateway/state/leases.ts):
        // no round trip for most requests; false sends every request's admission to Redis.
        leases: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict();

export type StateConfig = z.infer<typeof stateSchema>;

export function buildConfigSchema(providerTypes: readonly [string, ...string[]], requireBaseUrl: readonly string[] = []) {
  return z
    .object({
      version: z.literal(1).default(1),
      server: serverSchema.default(() => serverSchema.parse({})),
      /** Client keys Keel accepts, with teams' and customers' budgets and limits. Absent: the gateway is open (announced at start). */
      auth: authSchema.optional(),
      providers: z.record(z.string().min(1), providerSchema(providerTypes)),
      routes: z.record(z.string().min(1), routeSchema),
      defaults: z
        .object({ timeouts: timeoutsSchema.optional(), retries: retriesSchema.optional(), breaker: breakerSchema.optional(), response_limits: responseLimitsSchema.optional() })
        .strict()
        .default({}),
      telemetry: telemetrySchema.default(() => telemetrySchema.parse({})),
      slo: sloBlockSchema.default(() => sloBlockSchema.parse({})),
      /** USD per million tokens by upstream model name; adds to and overrides the built-in table. */
      prices: z.record(z.string().min(1), priceSchema).default({}),
      /** Context windows (tokens) by upstream model name; adds to and overrides the built-in catalogue. */
      context_windows: z.record(z.string().min(1), z.number().int().positive()).default({}),
      /** Shared state between gateway replicas; absent: in-process. */
      state: stateSchema.default({}),
      /** Named guardrail rules that routes and keys refer to. */
      guardrails: z.record(z.string().min(1), guardrailSchema).default({}),
      /** Bounds of the response cache routes may use (route.cache). */
      cache: cacheLimitsSchema.default(() => cacheLimitsSchema.parse({})),
    })
    .strict()
    .superRefine((cfg, ctx) => {
      // Secure by default: an open gateway on a reachable address is an open relay for the provider keys.
      if (cfg.auth === undefined && !cfg.server.allow_unauthenticated && !isLoopbackHost(cfg.server.host)) {
        ctx.addIssue({ code: 'custom', path: ['server', 'host'], message: openRelayMessage(cfg.server.host) });
      }
      // The SLO engine listens on the collector's host (cli/commands/collector.ts): beyond loopback, its API needs a token.
      const host = cfg.telemetry.collector.host;
      if (cfg.slo.token === undefined && !isLoopbackHost(host)) {
        ctx.addIssue({ code: 'custom', path: ['slo', 'token'], message: `is required: the SLO engine listens beyond loopback (telemetry.collector.host ${host}); set a token (e.g. \${KEEL_SLO_TOKEN})` });
      }
      for (const [name, p] of Object.entries(cfg.providers)) {
        if (p.base_url === undefined && requireBaseUrl.includes(p.type)) {
          ctx.addIssue({ code: 'custom', path: ['providers', name, 'type'], message: `providers of type ${p.type} need a base_url` });
        }
      }
      checkGovernance(cfg, ctx);
      for (const [name, route] of Object.entries(cfg.routes)) {
        const emb = route.cache?.semantic?.embeddings_route;
        if (emb !== undefined && !(emb in cfg.routes)) ctx.addIssue({ code: 'custom', path: ['routes', name, 'cache', 'semantic', 'embeddings_route'], message: `unknown route "${emb}" (declared: ${Object.keys(cfg.routes).join(', ')})` });
      }
      for (const [name, route] of Object.entries(cfg.routes)) {
        checkRuleRefs(route, ['routes', name], ctx);
        for (const list of ['targets', 'fallbacks'] as const) {
          route[list].forEach((t, i) => {
            if (!(t.provider in cfg.providers)) {
              ctx.addIssue({
                code: 'custom',
                path: ['routes', name, list, i, 'provider'],
                message: `unknown provider "${t.provider}" (declared: ${Object.keys(cfg.providers).join(', ') || 'none'})`,
              });
            }
          });
        }
      }
    });
}

interface GovernanceRefs {
  auth?: { keys: readonly { id: string; key?: string | undefined; key_sha256?: string | undefined; routes?: readonly string[] | undefined; guardrails: readonly string[] }[] } | undefined;
  routes: Record<string, { guardrails: readonly string[] }>;
  guardrails: Record<string, unknown>;
}

/** Names that must point somewhere: guardrails by routes and keys, routes by keys; key ids and keys unique. */
function checkGovernance(cfg: GovernanceRefs, ctx: z.RefinementCtx): void {
  const rules = Object.keys(cfg.guardrails);
  const unknownRule = (path: (string | number)[], name: string) =>
    ctx.addIssue({ code: 'custom', path, message: `unknown guardrail "${name}" (declared under guardrails: ${rules.join(', ') || 'none'})` });
  for (const [name, route] of Object.entries(cfg.routes)) route.guardrails.forEach((g, i) => !(g in cfg.guardrails) && unknownRule(['routes', name, 'guardrails', i], g));
  const ids = new Set<string>();
  const hashes = new Set<string>();
  cfg.auth?.keys.forEach((k, i) => {
    if (ids.has(k.id)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'id'], message: `duplicate key id "${k.id}"` });
    ids.add(k.id);
    const hash = k.key_sha256 ?? (k.key === undefined ? undefined : hashKey(k.key));
    if (hash !== undefined && hashes.has(hash)) ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i], message: 'the same key is listed twice (under another id)' });
    if (hash !== undefined) hashes.add(hash);
    k.guardrails.forEach((g, j) => !(g in cfg.guardrails) && unknownRule(['auth', 'keys', i, 'guardrails', j], g));
    k.routes?.forEach((r, j) => {
      if (!Object.keys(cfg.routes).some((name) => routeMatches(r, name))) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'keys', i, 'routes', j], message: `matches no route (routes: ${Object.keys(cfg.routes).join(', ')})` });
      }
    });
  });
}

export type KeelConfig = z.infer<ReturnType<typeof buildConfigSchema>>;
export type ProviderConfig = KeelConfig['providers'][string];
export type RouteConfig = KeelConfig['routes'][string];
export type TargetConfig = RouteConfig['targets'][number];
export type Timeouts = z.infer<typeof timeoutsSchema>;
export type Retries = z.infer<typeof retriesSchema>;
export type BreakerConfig = z.infer<typeof breakerSchema>;
export type HedgeConfig = z.infer<typeof hedgeSchema>;
export type ResponseLimits = z.infer<typeof responseLimitsSchema>;
export type ServerConfig = KeelConfig['server'];
