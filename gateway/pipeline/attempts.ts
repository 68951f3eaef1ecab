import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeelError } from '../errors.js';
import type { ChatRequest } from '../formats/canonical.js';
import { ClientSink } from '../relay/sink.js';
import type { StreamStats } from '../relay/stats.js';
import { retryDelay } from '../routing/backoff.js';
import { classify, countsAgainstTarget, decide, type FailureClass } from '../routing/classify.js';
import { planTargets } from '../routing/plan.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { attemptOnce, type AttemptOutcome, type StreamSession } from './attempt.js';
import { answerHeaders, type CallContext, type CallResult } from './context.js';
import type { AttemptReason, CompletedRequest } from './record.js';

interface Loop {
  ctx: CallContext;
  req: ChatRequest;
  route: ResolvedRoute;
  rec: CompletedRequest;
  session: StreamSession | undefined;
  /** The target currently answering, for the response headers. */
  current: ResolvedTarget | undefined;
  targetsTried: number;
}

/** Headers read when the answer starts: who answered and how many attempts it took. */
function headersOf(loop: Loop): Record<string, string> {
  const base = loop.current === undefined ? { ...loop.ctx.baseHeaders } : answerHeaders(loop.ctx, loop.route, loop.current);
  return { ...base, 'x-keel-attempts': String(loop.rec.attempts.length), 'x-keel-fallbacks': String(loop.rec.fallbacks), 'x-keel-retries': String(loop.rec.retries) };
}

async function tryTarget(loop: Loop, target: ResolvedTarget, reason: AttemptReason): Promise<{ outcome: AttemptOutcome; cls: FailureClass | undefined }> {
  const { ctx, route, rec } = loop;
  const startMs = performance.now() - ctx.receivedAt;
  loop.current = target;
  const outcome = await attemptOnce({ ctx, req: loop.req, route, target, rec, headers: () => headersOf(loop), session: loop.session });
  const cls = outcome.ok ? undefined : classify(outcome.error);
  const health = ctx.routing.health.get(target, route.breaker);
  health.breaker.record(cls === undefined || !countsAgainstTarget(cls));
  if (outcome.ok && outcome.ttftMs !== undefined) ctx.routing.health.observeLatency(health, outcome.ttftMs);
  const stats = outcome.stats;
  if (stats !== undefined && (outcome.ok || outcome.committed)) recordStream(rec, stats, ctx.receivedAt);
  rec.attempts.push({
    provider: target.provider.name,
    providerType: target.provider.adapter.type,
    model: target.model,
    reason,
    startMs,
    durationMs: performance.now() - ctx.receivedAt - startMs,
    ttftMs: outcome.ok ? outcome.ttftMs : outcome.stats?.firstTokenAt === undefined ? undefined : outcome.stats.firstTokenAt - outcome.stats.startedAt,
    ok: outcome.ok,
    errorCode: outcome.ok ? undefined : outcome.error.code,
    failureClass: cls,
  });
  return { outcome, cls };
}

/** The stream that reached the caller is the one the record describes. */
function recordStream(rec: CompletedRequest, stats: StreamStats, receivedAt: number): void {
  rec.usage = stats.usage;
  rec.responseModel = stats.responseModel;
  rec.finishReason = stats.finishReason;
  rec.ttftMs = stats.firstTokenAt === undefined ? undefined : stats.firstTokenAt - receivedAt;
  rec.interTokenMs = stats.gaps;
  rec.malformedChunks = stats.malformed;
  rec.endSynthesized = stats.endSynthesized;
}

/** A wait that ends early (false) when the caller leaves or the budget would be overrun. */
async function waitToRetry(loop: Loop, ms: number): Promise<boolean> {
  const left = loop.route.timeouts.total_ms - (performance.now() - loop.ctx.receivedAt);
  if (ms >= left) return false;
  try {
    await sleep(ms, undefined, { signal: loop.ctx.clientSignal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs a request's attempts: targets in the strategy's order, then fallbacks;
 * retries on the same target for what may pass (rate limits, 5xx) with backoff
 * and Retry-After; moves on at once for what will not (timeouts, credentials);
 * stops for what cannot succeed anywhere (caller faults, content policy).
 */
export async function runAttempts(ctx: CallContext, req: ChatRequest, route: ResolvedRoute, rec: CompletedRequest): Promise<CallResult> {
  const loop: Loop = { ctx, req, route, rec, session: undefined, current: undefined, targetsTried: 0 };
  if (req.stream) loop.session = { sink: new ClientSink(ctx.res, () => headersOf(loop), ctx.hijack), encoder: ctx.ingress.createStreamEncoder(req) };
  const plan = planTargets(route, { health: ctx.routing.health, weights: ctx.routing.weights(), random: ctx.routing.random });
  let last: KeelError | undefined;
  let minContext: number | undefined;
  for (const target of plan) {
    if (minContext !== undefined && (target.contextWindow ?? 0) <= minContext) continue;
    if (!ctx.routing.health.get(target, route.breaker).breaker.allow()) continue;
    if (loop.targetsTried++ > 0) rec.fallbacks++;
    for (let retry = 0; rec.attempts.length < route.maxAttempts; retry++) {
      const reason: AttemptReason = rec.attempts.length === 0 ? 'primary' : retry > 0 ? 'retry' : 'fallback';
      if (retry > 0) rec.retries++;
      const { outcome, cls } = await tryTarget(loop, target, reason);
      if (outcome.ok) return outcome.result;
      last = outcome.error;
      if (outcome.committed) return finishBroken(loop, outcome.error);
      const decision = decide(cls ?? 'unknown');
      if (decision === 'stop') throw outcome.error;
      if (decision === 'larger_context') minContext = Math.max(minContext ?? 0, target.contextWindow ?? 0);
      if (decision !== 'retry_same' || retry >= route.retries.attempts) break;
      const delay = retryDelay(retry, route.retries, outcome.error.retryAfterMs, ctx.routing.random);
      if (delay === undefined || !(await waitToRetry(loop, delay))) break;
    }
    if (rec.attempts.length >= route.maxAttempts) break;
  }
  throw last ?? new KeelError('KEEL_UPSTREAM_UNAVAILABLE', `every target of \`${route.name}\` is unavailable right now (circuit open); retry shortly.`);
}

/** Tokens already reached the caller: end with an explicit error event, never a clean end. */
function finishBroken(loop: Loop, error: KeelError): CallResult {
  loop.session?.sink.end(loop.session.encoder.error(error));
  loop.rec.streamTruncated = error.code !== 'KEEL_CLIENT_CLOSED';
  loop.rec.errorCode = error.code;
  loop.rec.upstreamCode = error.upstreamCode;
  if (error.code === 'KEEL_CLIENT_CLOSED') loop.rec.status = error.status;
  return { kind: 'streamed' };
}
