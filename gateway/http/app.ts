import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { KeelConfig } from '../../config/schema.js';
import { KeelError } from '../errors.js';
import type { FormatId } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import { runChat } from '../pipeline/chat.js';
import type { CallContext, CallResult, RoutingDeps } from '../pipeline/context.js';
import { runEmbeddings } from '../pipeline/embeddings.js';
import type { RequestObserver } from '../pipeline/record.js';
import { HealthRegistry } from '../routing/health.js';
import { NO_WEIGHTS, type WeightsSnapshot } from '../routing/weights.js';
import { buildRuntime, type Runtime } from '../runtime/resolve.js';
import { Abort } from '../upstream/abort.js';
import { authenticate } from './auth.js';
import { formatForUrl, fromFramework, sendError } from './errors.js';
import { exceedsDepth } from './json-depth.js';
import { registerInfoRoutes } from './info.js';

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
  /** Serves GET /metrics (Prometheus text) when given. */
  metrics?: (req: IncomingMessage, res: ServerResponse) => void;
  random?: () => number;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Derived state per config snapshot, so a reload costs one build and requests only look up. */
function runtimeCache(source: ConfigSource): () => Runtime {
  const cache = new WeakMap<object, Runtime>();
  return () => {
    const snap = source.current;
    let rt = cache.get(snap);
    if (rt === undefined) {
      rt = buildRuntime(snap.config, snap.version);
      cache.set(snap, rt);
    }
    return rt;
  };
}

export function buildGateway(opts: GatewayOptions): FastifyInstance {
  const runtime = runtimeCache(opts.config);
  const weights = opts.weights;
  const routing: RoutingDeps = {
    health: opts.health ?? new HealthRegistry(opts.now),
    weights: weights === undefined ? () => NO_WEIGHTS : () => weights.current,
    random: opts.random ?? Math.random,
  };
  const bodyLimit = opts.config.current.config.server.body_limit_bytes;
  const maxDepth = opts.config.current.config.server.max_json_depth;
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit,
    // Per-request log lines cost more than they tell at gateway rates; errors are logged where handled.
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });

  // Accept JSON whatever the content type says (curl's default is form-encoded); parse errors
  // become KEEL_INVALID_JSON in the caller's format.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
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

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  app.setErrorHandler((err, request, reply) => sendError(request, reply, fromFramework(err, bodyLimit)));
  app.setNotFoundHandler((request, reply) => {
    const err = new KeelError('KEEL_NOT_FOUND', `There is no ${request.method} ${request.url.split('?')[0] ?? ''} on this gateway.`);
    sendError(request, reply, err);
  });

  const serve = (run: (ctx: CallContext, observer?: RequestObserver) => Promise<CallResult>, format: FormatId) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const rt = runtime();
      const client = authenticate(request, rt);
      const ctx = callContext(request, reply, rt, client, format, routing);
      let result: CallResult;
      try {
        result = await run(ctx, opts.observer);
      } catch (err) {
        sendError(request, reply, fromFramework(err, bodyLimit), ctx.record);
        return reply;
      }
      if (result.kind === 'streamed') return reply;
      return reply.code(200).headers(result.headers).send(result.body);
    };
  app.post('/v1/chat/completions', serve(runChat, 'openai-chat'));
  app.post('/v1/messages', serve(runChat, 'anthropic-messages'));
  app.post('/v1/embeddings', serve(runEmbeddings, 'openai-chat'));
  registerInfoRoutes(app, runtime);
  const metrics = opts.metrics;
  if (metrics !== undefined) {
    app.get('/metrics', (request, reply) => {
      reply.hijack();
      metrics(request.raw, reply.raw);
    });
  }
  return app;
}

function callContext(
  request: FastifyRequest,
  reply: FastifyReply,
  runtime: Runtime,
  client: CallContext['client'],
  format: FormatId,
  routing: RoutingDeps,
): CallContext {
  const gone = new Abort();
  const res = reply.raw;
  res.once('close', () => {
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
    traceparent: headerText(request.headers.traceparent),
    tracestate: headerText(request.headers.tracestate),
    routing,
  };
}

function headerText(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export { formatForUrl };
