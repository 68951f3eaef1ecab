import { performance } from 'node:perf_hooks';
import { KeelError, toKeelError } from '../errors.js';
import type { ChatRequest, StreamEvent } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import type { WireFormat } from '../formats/types.js';
import { newStreamStats, type StreamStats } from '../relay/stats.js';
import type { Redactor } from '../redact.js';
import { relayStream, upstreamTimeout } from '../relay/stream.js';
import { Watchdog } from '../relay/watchdog.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { writeSse } from '../sse/read.js';
import { outputOfResponse, outputOfText } from '../telemetry/content.js';
import type { Abort, AbortLike } from '../upstream/abort.js';
import { ERROR_BODY_BYTES, type BodyLimits } from '../upstream/body.js';
import { transportError, type UpstreamResponse } from '../upstream/send.js';
import { retryAfterMs, upstreamStatusError } from '../upstream/status.js';
import { attemptController, encodeBody, sendToTarget, type CallContext, type CallResult } from './context.js';
import type { CompletedRequest } from './record.js';
import { newAnswer, observeAnswer, type AnswerSoFar, type StreamSession } from './session.js';

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
}

/** One upstream attempt: translate, send, then relay the JSON body or the stream. Never throws. */
export async function attemptOnce(a: AttemptInput): Promise<AttemptOutcome> {
  const upstream = formats[a.target.provider.adapter.format];
  const started = performance.now();
  const { controller, dispose } = attemptController(a.ctx, a.route.timeouts.total_ms);
  const onCancel = () => controller.abort(new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${a.target.provider.name}: another attempt answered first`));
  const offCancel = a.cancel?.onAbort(onCancel);
  const ttft = a.session === undefined ? undefined : ttftWatchdog(a.target, controller);
  try {
    const body = encodeBody(() => upstream.buildRequest(a.req, a.target.model, { forceStreamUsage: true }), a.target);
    const res = await sendToTarget(a.target, a.target.provider.adapter.chatPath, body, controller);
    await rejectErrorStatus(res, upstream, a.target, controller, a.ctx.runtime.redact);
    if (a.session === undefined || ttft === undefined) return { ok: true, result: await relayJson(res, upstream, a, controller), ttftMs: performance.now() - started, stats: undefined };
    return await relayChatStream(res, upstream, a, { session: a.session, controller, started, watchdog: ttft });
  } catch (err) {
    const error = controller.reason instanceof KeelError ? controller.reason : err instanceof KeelError ? err : transportError(err, a.target.provider.name, controller);
    return { ok: false, error: toKeelError(error), committed: false, stats: undefined };
  } finally {
    ttft?.cancel();
    offCancel?.();
    dispose();
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

async function rejectErrorStatus(res: UpstreamResponse, upstream: WireFormat, target: ResolvedTarget, signal: AbortLike, redact: Redactor): Promise<void> {
  if (res.statusCode < 400) return;
  // A body that stalls or breaks still leaves the status to judge by.
  const text = await readBody(res, target, signal).catch(() => '');
  throw upstreamStatusError(res.statusCode, text, upstream, target.provider.name, retryAfterMs(res.headers['retry-after']), redact);
}

async function relayJson(res: UpstreamResponse, upstream: WireFormat, a: AttemptInput, signal: AbortLike): Promise<CallResult> {
  const text = await readBody(res, a.target, signal);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${a.target.provider.name} returned a body that is not JSON`);
  }
  const parsed = upstream.parseResponse(json);
  if (!a.claim()) throw new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${a.target.provider.name}: another attempt answered first`);
  a.rec.usage = parsed.usage;
  a.rec.responseModel = parsed.model;
  a.rec.finishReason = parsed.choices[0]?.finishReason;
  // Stages acting on answers (guardrails out) see it before the caller; a refusal throws here, usage already booked.
  const shown = a.ctx.outbound === undefined ? parsed : a.ctx.outbound.answer(parsed);
  if (a.rec.content !== undefined) a.rec.content.output = outputOfResponse(shown);
  // Same format and untouched: the provider's bytes as they came, so fields Keel does not model survive.
  const out = upstream.id === a.ctx.ingress.id && shown === parsed ? text : JSON.stringify(a.ctx.ingress.renderResponse(shown));
  return { kind: 'json', headers: { ...a.headers(), 'content-type': 'application/json' }, body: out };
}

/**
 * The caller-format text for one upstream event. Pass-through keeps the provider's
 * bytes; a translated stream, or a continuation (which must read as the same answer),
 * goes through the caller's encoder. In pass-through the encoder is still fed when a
 * continuation may follow, so it knows what the caller has already seen.
 */
function renderer(a: AttemptInput, answer: AnswerSoFar, sameFormat: boolean, continuing: boolean, controller: Abort) {
  const filter = answer.filter;
  // A stage that may change the stream (guardrails) needs the caller's encoder: bytes cannot be passed through.
  const viaEncoder = !sameFormat || continuing || filter !== undefined;
  return (sse: Parameters<typeof writeSse>[0], raw: StreamEvent[]): string => {
    let events = continuing ? answer.continuation(raw) : raw;
    if (filter !== undefined) {
      const r = filter.push(events);
      events = r.events;
      // Ends the attempt with the stage's refusal: in-band if tokens went out, else an error response.
      if (r.blocked !== undefined) controller.abort(r.blocked);
    }
    observeAnswer(answer, events);
    if (viaEncoder) return events.map((e) => answer.encoder.encode(e)).join('');
    if (answer.shadow) for (const e of events) answer.encoder.encode(e);
    // Keel always asks for stream usage; a caller who did not gets no usage-only chunk.
    return !a.req.streamUsage && events.length > 0 && events.every((e) => e.type === 'usage') ? '' : writeSse(sse);
  };
}

/** The stream's last bytes: whatever a stage held back, then the caller format's end. */
function finaliser(answer: AnswerSoFar, passThrough: boolean): () => string {
  const filter = answer.filter;
  if (filter === undefined) return passThrough ? () => answer.encoder.terminator() : () => answer.encoder.encode({ type: 'end' });
  return () => {
    const held = filter.end();
    observeAnswer(answer, held.events);
    const text = held.events.map((e) => answer.encoder.encode(e)).join('');
    // What a stage held to the end may not go out: the stream ends with its refusal instead.
    return text + (held.blocked === undefined ? answer.encoder.encode({ type: 'end' }) : answer.encoder.error(held.blocked));
  };
}

interface StreamAttempt {
  session: StreamSession;
  controller: Abort;
  started: number;
  /** Armed with ttft_ms since the request was sent. */
  watchdog: Watchdog;
}

async function relayChatStream(res: UpstreamResponse, upstream: WireFormat, a: AttemptInput, st: StreamAttempt): Promise<AttemptOutcome> {
  const { session: s, controller, started } = st;
  const sameFormat = upstream.id === a.ctx.ingress.id;
  // A continuation extends the answer the caller already has; any other attempt starts its own.
  const continuing = s.answer !== undefined && a.req.prefill !== undefined;
  const answer = continuing && s.answer !== undefined ? s.answer : newAnswer(a.ctx.ingress.createStreamEncoder(a.req), s.shadow, s.filter?.());
  const stats = newStreamStats(started);
  const outcome = await relayStream({
    body: res.body,
    decoder: upstream.createStreamDecoder(),
    render: renderer(a, answer, sameFormat, continuing, controller),
    finalise: finaliser(answer, sameFormat && !continuing),
    sink: s.sink,
    stats,
    watchdog: st.watchdog,
    idleMs: a.target.timeouts.idle_ms,
    maxEventBytes: a.target.responseLimits.max_event_bytes,
    maxBytes: a.target.responseLimits.max_bytes,
    abort: (err) => controller.abort(err),
    signal: controller,
    providerName: a.target.provider.name,
    redact: a.ctx.runtime.redact,
    claim: () => {
      if (!a.claim()) return false;
      s.answer = answer;
      return true;
    },
  });
  const ttftMs = stats.firstTokenAt === undefined ? undefined : stats.firstTokenAt - started;
  if (!outcome.ok) {
    res.body.destroy();
    return { ok: false, error: outcome.error, committed: outcome.committed, stats };
  }
  if (a.rec.content !== undefined) a.rec.content.output = outputOfText(answer.text, stats.finishReason);
  return { ok: true, result: { kind: 'streamed' }, ttftMs, stats };
}
