import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { isUtf8 } from 'node:buffer';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { KeelConfig, ServerConfig } from '../../config/schema.js';
import { KeelError } from '../errors.js';
import type { FormatId } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import { runChat } from '../pipeline/chat.js';
import { finishRecord, newRecord, type CallContext, type CallResult, type RoutingDeps } from '../pipeline/context.js';
import { runEmbeddings } from '../pipeline/embeddings.js';
import { dropCacheStore } from '../cache/registry.js';
import type { CompletedRequest, RequestObserver } from '../pipeline/record.js';
import { HealthRegistry } from '../routing/health.js';
import { Prober, type ProbeObserver } from '../probes/index.js';
import { MemoryState } from '../state/memory.js';
import type { GovernanceState } from '../state/types.js';
import { NO_WEIGHTS, type WeightsSnapshot } from '../routing/weights.js';
import { buildRuntime, type Runtime } from '../runtime/resolve.js';
import { clip } from '../redact.js';
import { Abort } from '../upstream/abort.js';
import { admissionOf, admit } from './auth.js';
import { clientErrorHandler, trackRequest } from './client-error.js';
import { formatForUrl, fromFramework, sendError } from './errors.js';
import { Drain, shuttingDown } from './drain.js';
import { InFlight } from './inflight.js';
import { exceedsDepth } from './json-depth.js';
import { registerInfoRoutes } from './info.js';
import { registerMetrics, type MetricsHandler } from './metrics.js';

/** Where the gateway reads its config: a ConfigStore, or a fixed snapshot in tests. */
export interface ConfigSource {
  readonly current: { readonly config: KeelConfig; readonly version: number };
}

export interface GatewayOptions {
  config: ConfigSource;
  observer?: RequestObserver;
  logger?: FastifyServerOptions['logger'];
  /** Externally computed weight multipliers (the SLO engine's); static weights when absent. */
  weights?: { readonly current: WeightsSnapshot };
  /** Clock for breakers (tests compress time with it). */
  now?: () => number;
  /** Per-target health (breakers, latency); pass one to observe it (telemetry's breaker gauge). */
  health?: HealthRegistry;
  /** Serves GET /metrics (Prometheus text) when given, under the rules of gateway/http/metrics.ts. */
  metrics?: MetricsHandler;
  random?: () => number;
  /** Requests in flight (load shedding); pass one to observe it. */
  inflight?: InFlight;
  /** Shutdown state (drainGateway): pass one to drain this gateway. */
  drain?: Drain;
  /** What replicas share (breakers); in-process when absent. Shown on /readyz. */
  state?: GovernanceState;
  /** Operational log lines from the pipeline (a failed stage); default stderr. */
  log?: (msg: string) => void;
  /** Where active health checks' results go (telemetry: keel.probe spans and metrics). */
  onProbe?: ProbeObserver;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Paths any caller may reach without a client key: probes, and /metrics (which has rules of its own). */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

interface ApiRoute {
  format: FormatId;
  operation: CompletedRequest['operation'];
}

/** The routes that do upstream work: these hold an in-flight slot. */
const API_ROUTES = new Map<string, ApiRoute>([
  ['/v1/chat/completions', { format: 'openai-chat', operation: 'chat' }],
  ['/v1/messages', { format: 'anthropic-messages', operation: 'chat' }],
  ['/v1/responses', { format: 'openai-responses', operation: 'chat' }],
  ['/v1/embeddings', { format: 'openai-chat', operation: 'embeddings' }],
]);

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined;
}

/**
 * Bounds on what a caller may hold: Node's own deadlines for the headers and the whole
 * request, checked often enough to be honoured within a tenth of the shorter one.
 */
function serverOptions(s: ServerConfig) {
  const interval = Math.min(1000, Math.max(25, Math.floor(Math.min(s.headers_timeout_ms, s.request_timeout_ms) / 10)));
  return {
    requestTimeout: s.request_timeout_ms,
    keepAliveTimeout: s.keep_alive_timeout_ms,
    http: {
      headersTimeout: s.headers_timeout_ms,
      requestTimeout: s.request_timeout_ms,
      maxHeaderSize: s.max_header_bytes,
      connectionsCheckingInterval: interval,
    },
    clientErrorHandler: clientErrorHandler(s),
  };
}

/** Derived state per config snapshot, so a reload costs one build and requests only look up. */
function runtimeCache(source: ConfigSource, health: HealthRegistry): () => Runtime {
  const cache = new WeakMap<object, Runtime>();
  return () => {
    const snap = source.current;
    let rt = cache.get(snap);
    if (rt === undefined) {
      rt = buildRuntime(snap.config, snap.version);
      cache.set(snap, rt);
      // Breakers follow the new routes before any request of this snapshot asks one.
      health.apply(rt.routes.values(), rt.version);
    }
    return rt;
  };
}

export function buildGateway(opts: GatewayOptions): FastifyInstance {
  const health = opts.health ?? new HealthRegistry(opts.now, { state: opts.state });
  const runtime = runtimeCache(opts.config, health);
  const weights = opts.weights;
  const routing: RoutingDeps = {
    health,
    weights: weights === undefined ? () => NO_WEIGHTS : () => weights.current,
    random: opts.random ?? Math.random,
    state: opts.state ?? new MemoryState(),
    log: opts.log ?? ((msg) => process.stderr.write(`keel: ${msg}\n`)),
    observer: opts.observer,
    embed: runEmbeddings,
  };
  const server = opts.config.current.config.server;
  const bodyLimit = server.body_limit_bytes;
  const maxDepth = server.max_json_depth;
  const inflight = opts.inflight ?? new InFlight();
  const drain = opts.drain ?? new Drain();
  const app = Fastify({
    // Requests that reach a draining gateway get KEEL_SHUTTING_DOWN in their own format (below), not fastify's bare 503.
    return503OnClosing: false,
    logger: opts.logger ?? false,
    bodyLimit,
    // Per-request log lines cost more than they tell at gateway rates; errors are logged where handled.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ...serverOptions(server),
  });

  // Accept JSON whatever the content type says (curl's default is form-encoded); parse errors
  // become KEEL_INVALID_JSON in the caller's format.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    // JSON is UTF-8 (RFC 8259): a lenient decode would turn bad bytes into U+FFFD and send them upstream.
    if (!isUtf8(bytes)) return done(new KeelError('KEEL_INVALID_JSON', 'The request body is not valid UTF-8; JSON must be sent as UTF-8.'));
    const text = bytes.toString('utf8');
    if (text.trim() === '') return done(new KeelError('KEEL_INVALID_JSON', 'The request body is empty; send a JSON object.'));
    if (exceedsDepth(text, maxDepth)) {
      return done(new KeelError('KEEL_JSON_TOO_DEEP', `The request body nests deeper than ${maxDepth} levels (server.max_json_depth); flatten it.`));
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const detail = err instanceof Error ? err.message : 'parse error';
      done(new KeelError('KEEL_INVALID_JSON', `The request body is not valid JSON (${detail}).`));
    }
  });

  // onRequest runs before fastify reads the body: a caller refused here never costs a body read.
  // Callback style, not async: an async hook is a promise and a microtask turn per request for work that never waits.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    trackRequest(request.raw.socket, request.url, reply.raw);
    if (OPEN_PATHS.has(pathOf(request.url))) return done();
    try {
      const { runtime: rt, client } = admit(request, runtime());
      const api = API_ROUTES.get(request.routeOptions.url ?? '');
      if (api === undefined) return done();
      try {
        // A request on a kept-alive socket after SIGTERM: refused, counted like a shed one.
        if (drain.draining) throw shuttingDown();
        inflight.admit(reply.raw, rt.config.server.max_in_flight);
      } catch (err) {
        recordShed(callContext(request, reply, rt, client, api.format, routing, undefined), api.operation, undefined, err, opts.observer);
        throw err;
      }
    } catch (err) {
      // The body is still on the wire: closing after the answer is cheaper than reading it to keep the socket.
      if (hasBody(request)) void reply.header('connection', 'close');
      return done(err instanceof Error ? err : new Error(String(err)));
    }
    done();
  });
  // Once draining, every answer closes its connection, so no caller reuses a socket about to go.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (drain.draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  app.setErrorHandler((err, request, reply) => sendError(request, reply, fromFramework(err, bodyLimit)));
  app.setNotFoundHandler((request, reply) => {
    const err = new KeelError('KEEL_NOT_FOUND', `There is no ${request.method} ${clip(pathOf(request.url))} on this gateway.`);
    sendError(request, reply, err);
  });

  const serve = (run: (ctx: CallContext, observer?: RequestObserver) => Promise<CallResult>, format: FormatId, operation: CompletedRequest['operation']) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const { runtime: rt, client } = admissionOf(request, runtime);
      const ctx = callContext(request, reply, rt, client, format, routing, drain);
      let result: CallResult;
      try {
        admitRoute(ctx, inflight, operation, opts.observer);
        result = await run(ctx, opts.observer);
      } catch (err) {
        // Rate-limit and budget headers go out with a refusal too (that is when a client needs them).
        void reply.headers(ctx.baseHeaders);
        sendError(request, reply, fromFramework(err, bodyLimit), ctx.record);
        return reply;
      }
      if (result.kind === 'streamed') return reply;
      return reply.code(200).headers(result.headers).send(result.body);
    };
  app.post('/v1/chat/completions', serve(runChat, 'openai-chat', 'chat'));
  app.post('/v1/messages', serve(runChat, 'anthropic-messages', 'chat'));
  app.post('/v1/responses', serve(runChat, 'openai-responses', 'chat'));
  app.post('/v1/embeddings', serve(runEmbeddings, 'openai-chat', 'embeddings'));
  const state = opts.state;
  registerInfoRoutes(app, runtime, () => drain.draining, state === undefined ? undefined : () => state.health());
  // The cache store and semantic index of this gateway's state go with it (tests start many in one process).
  app.addHook('onClose', () => {
    dropCacheStore(routing.state);
    return Promise.resolve();
  });
  if (opts.metrics !== undefined) registerMetrics(app, opts.metrics, server);
  // Active health checks of idle targets (gateway/probes) live and die with the gateway.
  const prober = new Prober({ runtime, health, state: opts.state, now: opts.now, onProbe: opts.onProbe, log: routing.log }).start();
  app.addHook('onClose', () => prober.stop());
  return app;
}

/** The route the body names, when it names one; the pipeline reports a bad or unknown model itself. */
function routeOfBody(ctx: CallContext): string | undefined {
  const model = typeof ctx.body === 'object' && ctx.body !== null ? (ctx.body as { model?: unknown }).model : undefined;
  return typeof model === 'string' && ctx.runtime.routes.has(model) ? model : undefined;
}

/**
 * The route's in-flight cap, once the body named the route. A shed request is recorded
 * (gateway_overloaded, on its route) like any other failure, so it counts where it belongs.
 */
function admitRoute(ctx: CallContext, inflight: InFlight, operation: CompletedRequest['operation'], observer: RequestObserver | undefined): void {
  const name = routeOfBody(ctx);
  const max = name === undefined ? undefined : ctx.runtime.routes.get(name)?.maxInFlight;
  if (name === undefined || max === undefined) return;
  try {
    inflight.admitRoute(ctx.res, name, max);
  } catch (err) {
    recordShed(ctx, operation, name, err, observer);
    throw err;
  }
}

/** A shed request is a failed request (gateway_overloaded): recorded like one, on its route when known. */
function recordShed(ctx: CallContext, operation: CompletedRequest['operation'], route: string | undefined, err: unknown, observer: RequestObserver | undefined): void {
  const rec = newRecord(ctx, operation);
  rec.route = route;
  rec.requestModel = route;
  observer?.(finishRecord(rec, ctx, err instanceof KeelError ? err : undefined));
}

function callContext(
  request: FastifyRequest,
  reply: FastifyReply,
  runtime: Runtime,
  client: CallContext['client'],
  format: FormatId,
  routing: RoutingDeps,
  drain: Drain | undefined,
): CallContext {
  const gone = new Abort();
  const res = reply.raw;
  // Shutdown cuts what outlives the grace through the same abort a disconnect uses (reason: KEEL_SHUTTING_DOWN).
  const untrack = drain?.track(gone);
  res.once('close', () => {
    untrack?.();
    if (!res.writableFinished) gone.abort();
  });
  return {
    requestId: request.id,
    ingress: formats[format],
    body: request.body,
    runtime,
    client,
    clientGone: gone,
    res,
    // Streams write to the raw response; from then on fastify must stay out of it.
    hijack: () => {
      reply.hijack();
    },
    baseHeaders: { 'x-request-id': request.id },
    receivedAt: performance.now(),
    requestHeaders: request.headers,
    traceparent: headerText(request.headers.traceparent),
    tracestate: headerText(request.headers.tracestate),
    routing,
  };
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export { formatForUrl };
