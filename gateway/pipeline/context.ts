import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { KeelError } from '../errors.js';
import type { WireFormat } from '../formats/types.js';
import { endpointUrl, type ClientIdentity, type ResolvedRoute, type ResolvedTarget, type Runtime } from '../runtime/resolve.js';
import { clip } from '../redact.js';
import { requestTrace, traceparentOf } from '../telemetry/trace-ids.js';
import { Abort } from '../upstream/abort.js';
import { sendUpstream, type UpstreamResponse } from '../upstream/send.js';
import type { HealthRegistry } from '../routing/health.js';
import type { WeightsSnapshot } from '../routing/weights.js';
import type { ChatResponse } from '../formats/canonical.js';
import type { GovernanceState } from '../state/types.js';
import type { StreamFilter } from '../stages/types.js';
import type { CompletedRequest, RequestObserver } from './record.js';
import { extend } from '../objects.js';

/** Routing state shared by all requests of one gateway. */
export interface RoutingDeps {
  health: HealthRegistry;
  weights: () => WeightsSnapshot;
  random: () => number;
  /** What replicas share (DESIGN.md §9): budgets and rate limits go through it; in-process for one replica. */
  state: GovernanceState;
  /** Operational log lines (a stage that failed, a reconcile that could not be written). */
  log: (msg: string) => void;
  /** Where finished requests go (telemetry): requests Keel makes for itself (the cache's embeddings) report there too. */
  observer?: RequestObserver;
  /** Keel's embeddings pipeline, for the semantic cache (injected: the pipeline runs the stages that use it). */
  embed?: (ctx: CallContext, observer?: RequestObserver) => Promise<CallResult>;
}

/** What stages do to the answer on its way to the caller (guardrails out), composed by runChat. */
export interface Outbound {
  answer(res: ChatResponse): ChatResponse;
  /** One filter per streamed answer (continuations included); undefined: the stream passes untouched. */
  stream(): StreamFilter | undefined;
}

/** What the HTTP layer hands the pipeline for one request. */
export interface CallContext {
  requestId: string;
  ingress: WireFormat;
  body: unknown;
  runtime: Runtime;
  client: ClientIdentity | undefined;
  /** Aborted when the caller disconnects (reason: not a KeelError) or is cut for not reading (a KEEL_CLIENT_STALLED reason). */
  clientGone: Abort;
  /** The raw response, written directly only for streams. */
  res: ServerResponse;
  /** Called once, just before a stream's first byte: the framework hands over the response. */
  hijack: () => void;
  /** Headers every response carries, errors included (request id; rate-limit and budget headers stages add). */
  baseHeaders: Record<string, string>;
  /** performance.now() at arrival. */
  receivedAt: number;
  /** The caller's request headers (stages read their own: x-keel-cache, Cache-Control). */
  requestHeaders?: Readonly<Record<string, string | string[] | undefined>>;
  /** W3C trace context the caller sent, so Keel's spans join its trace. */
  traceparent: string | undefined;
  tracestate: string | undefined;
  routing: RoutingDeps;
  /** The request's record once the pipeline made one: an error response reports its attempts. */
  record?: CompletedRequest;
  /** Set by the stages that act on answers (runChat); absent: answers pass as they come. */
  outbound?: Outbound;
}

export type CallResult = { kind: 'json'; headers: Record<string, string>; body: string } | { kind: 'streamed' };

export function findRoute(runtime: Runtime, model: string): ResolvedRoute {
  const route = runtime.routes.get(model);
  if (route !== undefined) return route;
  const known = [...runtime.routes.keys()].join(', ');
  // The name is the caller's and may be megabytes: echoed clipped.
  throw new KeelError('KEEL_UNKNOWN_ROUTE', `The model \`${clip(model)}\` does not exist on this gateway. Configured models: ${known || 'none'}.`, {
    param: 'model',
  });
}

/**
 * The configured route a body names, even when the rest of it failed validation: a caller's
 * invalid request is counted apart under its route (DESIGN.md §8), not lost under none.
 */
export function routeNamed(ctx: CallContext): string | undefined {
  const model = typeof ctx.body === 'object' && ctx.body !== null ? (ctx.body as { model?: unknown }).model : undefined;
  return typeof model === 'string' && ctx.runtime.routes.has(model) ? model : undefined;
}

export function newRecord(ctx: CallContext, operation: CompletedRequest['operation']): CompletedRequest {
  const rec: CompletedRequest = {
    requestId: ctx.requestId,
    operation,
    startedAtMs: performance.timeOrigin + ctx.receivedAt,
    traceparent: ctx.traceparent,
    tracestate: ctx.tracestate,
    trace: requestTrace(ctx.traceparent),
    ingressFormat: ctx.ingress.id,
    route: undefined,
    provider: undefined,
    providerType: undefined,
    requestModel: undefined,
    responseModel: undefined,
    stream: false,
    clientId: ctx.client?.id,
    team: ctx.client?.team,
    guardrails: [],
    customer: ctx.client?.customer,
    keyMetadata: ctx.client?.metadata ?? {},
    configVersion: ctx.runtime.version,
    status: 200,
    errorCode: undefined,
    errorClass: undefined,
    upstreamCode: undefined,
    durationMs: 0,
    ttftMs: undefined,
    interTokenMs: [],
    usage: undefined,
    finishReason: undefined,
    malformedChunks: 0,
    streamTruncated: false,
    endSynthesized: false,
    attempts: [],
    fallbacks: 0,
    retries: 0,
    hedged: false,
    continued: false,
    weightsVersion: ctx.routing.weights().version,
    content: undefined,
    cache: undefined,
  };
  ctx.record = rec;
  return rec;
}

export function finishRecord(rec: CompletedRequest, ctx: CallContext, err: KeelError | undefined): CompletedRequest {
  rec.durationMs = performance.now() - ctx.receivedAt;
  if (err !== undefined) {
    rec.status = err.status;
    rec.errorCode = err.code;
    rec.errorClass = err.errorClass;
    rec.upstreamCode = err.upstreamCode;
  }
  return rec;
}

/**
 * The abort for one upstream call (also its undici signal): fires on caller disconnect and
 * on the route's total deadline, each with a KeelError reason the relay reports.
 */
export function attemptController(ctx: CallContext, totalMs: number): { controller: Abort; dispose: () => void } {
  const controller = new Abort();
  // The caller's side says why it is gone (a stalled reader is cut with caller_stalled); else it disconnected.
  const offClientGone = ctx.clientGone.onAbort(() =>
    controller.abort(ctx.clientGone.reason instanceof KeelError ? ctx.clientGone.reason : new KeelError('KEEL_CLIENT_CLOSED', 'the caller closed the connection')),
  );
  const remaining = Math.max(1, totalMs - (performance.now() - ctx.receivedAt));
  const timer = setTimeout(
    () => controller.abort(new KeelError('KEEL_UPSTREAM_TIMEOUT', `request exceeded its total budget of ${totalMs} ms`, { upstreamCode: 'total_timeout' })),
    remaining,
  );
  timer.unref();
  return {
    controller,
    dispose: () => {
      clearTimeout(timer);
      offClientGone();
    },
  };
}

/**
 * The upstream body as JSON text. A failure here (a stack overflow on a pathological body,
 * a value JSON cannot hold) is Keel's, never the provider's: it is raised before any byte
 * leaves, as a gateway_encode error that no breaker sees.
 */
export function encodeBody(build: () => unknown, target: ResolvedTarget): string {
  try {
    const text = JSON.stringify(build());
    if (typeof text !== 'string') throw new TypeError('the request encodes to nothing');
    return text;
  } catch (err) {
    // A request the target's format cannot express is the caller's (KEEL_UNSUPPORTED): kept as it is.
    if (err instanceof KeelError) throw err;
    throw new KeelError('KEEL_ENCODE_FAILED', `Keel could not encode the request for provider ${target.provider.name}; nothing was sent.`, { cause: err });
  }
}

/** The trace an attempt joins upstream: its own span as the parent (trace-ids.ts). */
export interface AttemptTrace {
  rec: CompletedRequest;
  spanId: string | undefined;
}

function traceHeaders(target: ResolvedTarget, t: AttemptTrace | undefined): Readonly<Record<string, string>> {
  const trace = t?.rec.trace;
  if (trace === undefined || t?.spanId === undefined) return target.provider.headers;
  const headers: Record<string, string> = extend(target.provider.headers, { traceparent: traceparentOf(trace, t.spanId) });
  if (t.rec.tracestate !== undefined) headers.tracestate = t.rec.tracestate;
  return headers;
}

/** Sends one JSON body to a target's endpoint with the route's connect and header deadlines, in the request's trace. */
export function sendToTarget(target: ResolvedTarget, path: string, body: string, signal: Abort, trace?: AttemptTrace): Promise<UpstreamResponse> {
  return sendUpstream({
    url: endpointUrl(target, path),
    headers: traceHeaders(target, trace),
    body,
    signal,
    connectMs: target.timeouts.connect_ms,
    headersMs: target.timeouts.headers_ms,
    providerName: target.provider.name,
  });
}

/** Response headers that say who answered. */
export function answerHeaders(ctx: CallContext, route: ResolvedRoute, target: ResolvedTarget): Record<string, string> {
  return extend(ctx.baseHeaders, { 'x-keel-route': route.name, 'x-keel-provider': target.provider.name, 'x-keel-model': target.model });
}
