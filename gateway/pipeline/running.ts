import { performance } from 'node:perf_hooks';
import type { KeelError } from '../errors.js';
import type { ChatRequest } from '../formats/canonical.js';
import type { StreamStats } from '../relay/stats.js';
import type { ErrorClass } from '../errors.js';
import { countsAgainstTarget, isVerdictless } from '../routing/classify.js';
import { HealthRegistry } from '../routing/health.js';
import { Abort } from '../upstream/abort.js';
import { newSpanId } from '../telemetry/trace-ids.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { attemptOnce, type AttemptInput, type AttemptOutcome, type Exchange } from './attempt.js';
import { answerHeaders, type CallContext } from './context.js';
import { attemptInfo, type AttemptReason, type CompletedRequest } from './record.js';
import type { StreamSession } from './session.js';
import { extend } from '../objects.js';

/** One request's attempts in flight and behind it: who answers, what was tried, what failed last. */
export interface Loop {
  ctx: CallContext;
  req: ChatRequest;
  route: ResolvedRoute;
  rec: CompletedRequest;
  session: StreamSession | undefined;
  plan: ResolvedTarget[];
  /** The attempt answering the caller, once one has claimed the answer. */
  owner: symbol | undefined;
  /** The target of that attempt, for the response headers. */
  current: ResolvedTarget | undefined;
  /** Attempts started, including those still running (hedges). */
  started: number;
  running: Map<symbol, Abort>;
  /** Health keys of targets already tried, so a target listed twice is tried once. */
  tried: Set<string>;
  last: KeelError | undefined;
  /** A context-length failure: targets with a known window this small or smaller are skipped. */
  minContext: number | undefined;
  /** What each attempt does (chat, embeddings). */
  exchange: Exchange;
}

export interface Running {
  target: ResolvedTarget;
  promise: Promise<Settled>;
  /** Resolves when this attempt claims the answer (its first token, or its whole JSON body). */
  claimed: Promise<void>;
}

export interface Settled {
  target: ResolvedTarget;
  outcome: AttemptOutcome;
  cls: ErrorClass | undefined;
}

/** Headers read when the answer starts: who answered and how many attempts it took. */
export function headersOf(loop: Loop): Record<string, string> {
  const base = loop.current === undefined ? { ...loop.ctx.baseHeaders } : answerHeaders(loop.ctx, loop.route, loop.current);
  return extend(base, { 'x-keel-attempts': String(loop.started), 'x-keel-fallbacks': String(loop.rec.fallbacks), 'x-keel-retries': String(loop.rec.retries) });
}

/** Starts one attempt. The first attempt to claim the answer cancels the others still running. */
export function startAttempt(loop: Loop, target: ResolvedTarget, reason: AttemptReason, req: ChatRequest = loop.req, continuing?: AttemptInput['continuing']): Running {
  const id = Symbol(reason);
  const cancel = new Abort();
  let onClaim: () => void = () => undefined;
  const claimed = new Promise<void>((resolve) => (onClaim = resolve));
  const claim = (): boolean => {
    if (loop.owner !== undefined) return loop.owner === id;
    loop.owner = id;
    loop.current = target;
    for (const [other, c] of loop.running) if (other !== id) c.abort();
    onClaim();
    return true;
  };
  loop.running.set(id, cancel);
  loop.started++;
  loop.tried.add(HealthRegistry.key(target));
  const startMs = performance.now() - loop.ctx.receivedAt;
  const { ctx, route, rec, session } = loop;
  const spanId = newSpanId();
  const input: AttemptInput = { ctx, req, route, target, rec, headers: () => headersOf(loop), session, claim, cancel, continuing, spanId };
  const promise = attemptOnce(input, loop.exchange.run).then((outcome) => {
    loop.running.delete(id);
    return note(loop, target, { reason, startMs, spanId }, outcome);
  });
  return { target, promise, claimed };
}

/** Books a settled attempt: breaker, latency, the record's attempt list and stream facts. */
function note(loop: Loop, target: ResolvedTarget, at: { reason: AttemptReason; startMs: number; spanId: string }, outcome: AttemptOutcome): Settled {
  const { reason, startMs } = at;
  const { ctx, route, rec } = loop;
  const cls = outcome.ok ? undefined : outcome.error.errorClass;
  const breaker = ctx.routing.health.breaker(route, target);
  if (cls !== undefined && isVerdictless(cls)) breaker.release();
  else breaker.record(cls === undefined || !countsAgainstTarget(cls));
  if (outcome.ok && outcome.ttftMs !== undefined) ctx.routing.health.observeLatency(target, outcome.ttftMs);
  ctx.routing.health.observeOutcome(target, cls);
  if (outcome.stats !== undefined && (outcome.ok || outcome.committed)) recordStream(rec, outcome.stats, ctx.receivedAt, reason === 'continuation');
  const stats = outcome.stats;
  rec.attempts.push(
    attemptInfo(target, {
      reason,
      startMs,
      durationMs: performance.now() - ctx.receivedAt - startMs,
      ttftMs: outcome.ok ? outcome.ttftMs : stats?.firstTokenAt === undefined ? undefined : stats.firstTokenAt - stats.startedAt,
      error: outcome.ok ? undefined : outcome.error,
      spanId: at.spanId,
    }),
  );
  if (!outcome.ok && cls !== 'gateway_cancelled') loop.last = outcome.error;
  return { target, outcome, cls };
}

/**
 * The stream that reached the caller is the one the record describes. A continuation
 * extends it: first-token time stays the first attempt's, gaps and skipped chunks add
 * up, usage and finish are the continuation's (the broken attempt reported none), the
 * model stays the one the caller was told.
 */
function recordStream(rec: CompletedRequest, stats: StreamStats, receivedAt: number, continuation: boolean): void {
  rec.usage = stats.usage;
  rec.finishReason = stats.finishReason;
  rec.endSynthesized = stats.endSynthesized;
  if (continuation) {
    rec.interTokenMs = [...rec.interTokenMs, ...stats.gaps];
    rec.malformedChunks += stats.malformed;
    return;
  }
  rec.responseModel = stats.responseModel;
  rec.ttftMs = stats.firstTokenAt === undefined ? undefined : stats.firstTokenAt - receivedAt;
  rec.interTokenMs = stats.gaps;
  rec.malformedChunks = stats.malformed;
}
