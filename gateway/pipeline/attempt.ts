import { performance } from 'node:perf_hooks';
import { KeelError, toKeelError } from '../errors.js';
import type { ChatRequest, ChatResponse } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import type { WireFormat } from '../formats/types.js';
import type { StreamStats } from '../relay/stats.js';
import type { Redactor } from '../redact.js';
import { upstreamTimeout } from '../relay/stream.js';
import { Watchdog } from '../relay/watchdog.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { outputOfResponse } from '../telemetry/content.js';
import type { Abort, AbortLike } from '../upstream/abort.js';
import { ERROR_BODY_BYTES, type BodyLimits } from '../upstream/body.js';
import { transportError, type UpstreamResponse } from '../upstream/send.js';
import { retryAfterMs, upstreamStatusError } from '../upstream/status.js';
import { relayAssembled } from './assemble.js';
import { relayChatStream } from './attempt-stream.js';
import { attemptController, encodeBody, sendToTarget, type CallContext, type CallResult } from './context.js';
import type { CompletedRequest } from './record.js';
import type { StreamSession } from './session.js';
import { extend } from '../objects.js';

export type AttemptOutcome =
  | { ok: true; result: CallResult; ttftMs: number | undefined; stats: StreamStats | undefined }
  | { ok: false; error: KeelError; committed: boolean; stats: StreamStats | undefined };

export interface AttemptInput {
  ctx: CallContext;
  req: ChatRequest;
  route: ResolvedRoute;
  target: ResolvedTarget;
  rec: CompletedRequest;
  /** Response headers, read when the answer starts (so they name the attempt that answered). */
  headers: () => Record<string, string>;
  session: StreamSession | undefined;
  /** May this attempt answer? Asked once, when its answer would start (see relayStream). */
  claim: () => boolean;
  /** Aborts this attempt from outside (a hedge that lost). */
  cancel?: Abort;
  /** This attempt's CLIENT span id, sent upstream as the traceparent's parent. */
  spanId?: string;
  /** The caller already has part of this answer: how this attempt's output joins it (see afterBreak). */
  continuing?: 'prefill' | 'regenerate';
}

/** What is sent to the target and read back, inside the attempt's deadlines and cancellation. */
export type AttemptBody = (a: AttemptInput, controller: Abort, started: number) => Promise<AttemptOutcome>;

/**
 * What one kind of request does on one attempt (chat, embeddings). Everything around it (plan,
 * retries, fallbacks, breakers, hedges, deadlines, the record's attempts) is the one attempt
 * loop in attempts.ts, whatever the operation.
 */
export interface Exchange {
  /** Can this target serve the operation at all (a provider without embeddings cannot)? */
  serves(t: ResolvedTarget): boolean;
  /** Why a route has no target for it: a caller's error. */
  unsupported(model: string): KeelError;
  run: AttemptBody;
}

/** Chat: every target serves it. */
export const chatExchange: Exchange = {
  serves: () => true,
  unsupported: (model) => new KeelError('KEEL_UNSUPPORTED', `The model \`${model}\` has no target.`, { param: 'model' }),
  run: chatAttempt,
};

/** One upstream attempt of the loop, with its deadlines, cancellation and error mapping. Never throws. */
export async function attemptOnce(a: AttemptInput, body: AttemptBody): Promise<AttemptOutcome> {
  const started = performance.now();
  const { controller, dispose } = attemptController(a.ctx, a.route.timeouts.total_ms);
  const onCancel = () => controller.abort(new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${a.target.provider.name}: another attempt answered first`));
  const offCancel = a.cancel?.onAbort(onCancel);
  try {
    return await body(a, controller, started);
  } catch (err) {
    const error = controller.reason instanceof KeelError ? controller.reason : err instanceof KeelError ? err : transportError(err, a.target.provider.name, controller);
    return { ok: false, error: toKeelError(error), committed: false, stats: undefined };
  } finally {
    offCancel?.();
    dispose();
  }
}

/**
 * A chat attempt: translate, send, then relay the stream to the caller, or read the answer whole.
 * A non-streaming answer from a target that can stream is streamed upstream and assembled
 * (route.assemble), so ttft_ms and idle_ms judge it like a stream: a provider slow to start
 * fails over after ttft_ms instead of being waited on for headers_ms.
 */
async function chatAttempt(a: AttemptInput, controller: Abort, started: number): Promise<AttemptOutcome> {
  const upstream = formats[a.target.provider.adapter.format];
  const assemble = a.session === undefined && a.route.assemble && upstream.canAssemble(a.req);
  const streams = a.session !== undefined || assemble;
  const watchdog = streams ? ttftWatchdog(a.target, controller) : undefined;
  try {
    const req = assemble ? extend(a.req, { stream: true }) : a.req;
    const body = encodeBody(() => upstream.buildRequest(req, a.target.model, { forceStreamUsage: true }), a.target);
    const res = await sendToTarget(a.target, a.target.provider.adapter.chatPath, body, controller, { rec: a.rec, spanId: a.spanId });
    // Awaited only for an error status: an async call that returns at once is still a promise and a turn of the microtask queue.
    if (res.statusCode >= 400) await rejectErrorStatus(res, upstream, a.target, controller, a.ctx.runtime.redact);
    if (watchdog === undefined) return { ok: true, result: await relayJson(res, upstream, a, controller), ttftMs: performance.now() - started, stats: undefined };
    if (a.session === undefined) return await relayAssembled(res, upstream, a, { controller, started, watchdog });
    return await relayChatStream(res, upstream, a, { session: a.session, controller, started, watchdog });
  } finally {
    watchdog?.cancel();
  }
}

/**
 * The stream's first-token clock, started before the request is sent: a provider that
 * accepts the connection and sends nothing at all fails over after ttft_ms, like one that
 * sends headers and no token (headers_ms, usually longer, bounds non-streaming answers).
 */
function ttftWatchdog(target: ResolvedTarget, controller: Abort): Watchdog {
  const watchdog = new Watchdog();
  const ms = target.timeouts.ttft_ms;
  watchdog.arm(ms, () => controller.abort(upstreamTimeout(target.provider.name, 'no first token in time', ms)));
  return watchdog;
}

/** How a whole body is read: an answer up to responseLimits.max_bytes, an error body to 64 KiB; gaps up to idle_ms. */
export function bodyLimits(target: ResolvedTarget, status: number): BodyLimits {
  const error = status >= 400;
  return { idleMs: target.timeouts.idle_ms, maxBytes: error ? ERROR_BODY_BYTES : target.responseLimits.max_bytes, truncate: error, provider: target.provider.name };
}

/** Reads a whole body within its limits; a transport failure mid-body is mapped like any other. */
export async function readBody(res: UpstreamResponse, target: ResolvedTarget, signal: AbortLike): Promise<string> {
  try {
    return await res.body.text(bodyLimits(target, res.statusCode));
  } catch (err) {
    throw transportError(err, target.provider.name, signal);
  }
}

/** An error status ends the attempt with the provider's error, mapped to its class. */
export async function rejectErrorStatus(res: UpstreamResponse, upstream: WireFormat, target: ResolvedTarget, signal: AbortLike, redact: Redactor): Promise<void> {
  if (res.statusCode < 400) return;
  // A body that stalls or breaks still leaves the status to judge by.
  const text = await readBody(res, target, signal).catch(() => '');
  throw upstreamStatusError(res.statusCode, text, upstream, target.provider.name, retryAfterMs(res.headers['retry-after']), redact);
}

/** A whole JSON body, or the provider's malformed answer. */
export async function readJson(res: UpstreamResponse, a: AttemptInput, signal: AbortLike): Promise<{ text: string; json: unknown }> {
  const text = await readBody(res, a.target, signal);
  try {
    return { text, json: JSON.parse(text) as unknown };
  } catch {
    throw new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${a.target.provider.name} returned a body that is not JSON`);
  }
}

async function relayJson(res: UpstreamResponse, upstream: WireFormat, a: AttemptInput, signal: AbortLike): Promise<CallResult> {
  const { text, json } = await readJson(res, a, signal);
  // Same format: the provider's bytes as they came, so fields Keel does not model survive.
  return answerJson(upstream.parseResponse(json), a, upstream.id === a.ctx.ingress.id ? text : undefined);
}

/**
 * A whole answer for a non-streaming caller: claimed, booked on the record, passed through the
 * stages that act on answers, rendered in the caller's format (or `raw`, the provider's own
 * bytes in the caller's format, when no stage changed it).
 */
export function answerJson(parsed: ChatResponse, a: AttemptInput, raw: string | undefined): CallResult {
  if (!a.claim()) throw new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${a.target.provider.name}: another attempt answered first`);
  a.rec.usage = parsed.usage;
  a.rec.responseModel = parsed.model;
  a.rec.finishReason = parsed.choices[0]?.finishReason;
  // Stages acting on answers (guardrails out) see it before the caller; a refusal throws here, usage already booked.
  const shown = a.ctx.outbound === undefined ? parsed : a.ctx.outbound.answer(parsed);
  if (a.rec.content !== undefined) a.rec.content.output = outputOfResponse(shown);
  const out = raw !== undefined && shown === parsed ? raw : JSON.stringify(a.ctx.ingress.renderResponse(shown));
  return { kind: 'json', headers: extend(a.headers(), { 'content-type': 'application/json' }), body: out };
}
