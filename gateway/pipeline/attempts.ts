import { performance } from 'node:perf_hooks';
import { familyOf, KeelError } from '../errors.js';
import type { ChatRequest } from '../formats/canonical.js';
import { ClientSink } from '../relay/sink.js';
import { retryDelay } from '../routing/backoff.js';
import { decide } from '../routing/classify.js';
import { HealthRegistry } from '../routing/health.js';
import { hedgeDelay } from '../routing/hedge.js';
import { requestFacts } from '../routing/facts.js';
import { planTargets } from '../routing/plan.js';
import { evaluateRules } from '../routing/rules.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { Abort, sleepUnless } from '../upstream/abort.js';
import type { CallContext, CallResult } from './context.js';
import type { AttemptReason, CompletedRequest } from './record.js';
import { headersOf, startAttempt, type Loop, type Settled } from './running.js';
import { prefillOf } from './session.js';
import { chatExchange, type Exchange } from './attempt.js';
import { extend } from '../objects.js';

function budgetLeft(loop: Loop): number {
  return loop.route.timeouts.total_ms - (performance.now() - loop.ctx.receivedAt);
}

/**
 * Not tried yet and, after a context-length failure, not known to be too small: a target whose
 * window is known and no larger than the one that failed is skipped; one whose window is unknown
 * may fit and is tried. Breakers are asked separately.
 */
function untried(loop: Loop, t: ResolvedTarget): boolean {
  if (loop.tried.has(HealthRegistry.key(t))) return false;
  return loop.minContext === undefined || t.contextWindow === undefined || t.contextWindow > loop.minContext;
}

function breakerAllows(loop: Loop, t: ResolvedTarget): boolean {
  return loop.ctx.routing.health.breaker(loop.route, t).allow();
}

/** A wait that ends early (false) when the caller leaves or the budget would be overrun. */
async function waitToRetry(loop: Loop, ms: number): Promise<boolean> {
  if (ms >= budgetLeft(loop)) return false;
  // A timer is never shorter than ~1 ms plus a loop turn: no backoff means no timer.
  if (ms <= 0) return !loop.ctx.clientGone.aborted;
  return sleepUnless(ms, loop.ctx.clientGone);
}

/**
 * A request that only its own format can carry (a Responses `previous_response_id`) goes only to
 * targets of that format, when there are any: a fallback of another format would answer the
 * caller's 400 for a failure that was the provider's. With none, the plan stays, and the first
 * target's builder refuses the request with the reason (a 400 naming the field).
 */
function expressible(plan: ResolvedTarget[], req: ChatRequest): ResolvedTarget[] {
  if (req.sameFormatOnly === undefined) return plan;
  const same = plan.filter((t) => t.provider.adapter.format === req.original.format);
  return same.length > 0 ? same : plan;
}

/**
 * Runs a request's attempts: targets in the strategy's order, then fallbacks;
 * retries on the same target for what may pass (rate limits, 5xx) with backoff
 * and Retry-After; moves on at once for what will not (timeouts, credentials);
 * stops for what cannot succeed anywhere (caller faults, content policy).
 */
export async function runAttempts(ctx: CallContext, req: ChatRequest, route: ResolvedRoute, rec: CompletedRequest, exchange: Exchange = chatExchange): Promise<CallResult> {
  const weights = ctx.routing.weights();
  rec.weightsVersion = weights.version;
  const ruled = route.rules.length === 0 ? undefined : evaluateRules(route, route.rules, requestFacts(ctx, req), (t) => ctx.routing.health.targetStats(t));
  if (ruled !== undefined && ruled.decisions.length > 0) rec.routeRules = ruled.decisions;
  const plan = expressible(planTargets(ruled?.view ?? route, { health: ctx.routing.health, weights, random: ctx.routing.random }).filter((t) => exchange.serves(t)), req);
  if (plan.length === 0) throw exchange.unsupported(route.name);
  const loop: Loop = { ctx, req, route, rec, session: undefined, plan, owner: undefined, current: undefined, started: 0, running: new Map(), tried: new Set(), last: undefined, minContext: undefined, exchange };
  if (req.stream) {
    // Pass-through streams feed the caller's encoder only when a continuation could follow.
    const shadow = route.continuation === 'regenerate' ? plan.length > 1 : route.continuation === 'prefill' && plan.some((t) => t.provider.prefill);
    // A caller that reads nothing for write_timeout_ms is cut; the reason travels with clientGone to every attempt.
    const sinkOpts = { writeTimeoutMs: ctx.runtime.config.server.write_timeout_ms, onStall: (err: KeelError) => ctx.clientGone.abort(err) };
    loop.session = { sink: new ClientSink(ctx.res, () => headersOf(loop), ctx.hijack, sinkOpts), shadow, answer: undefined, filter: ctx.outbound === undefined ? undefined : () => ctx.outbound?.stream() };
  }
  if (route.hedge !== undefined) ctx.routing.health.hedgeGate(route.name).request();
  for (const target of plan) {
    if (!untried(loop, target) || !breakerAllows(loop, target)) continue;
    if (loop.tried.size > 0) rec.fallbacks++;
    const answered = await onTarget(loop, target);
    if (answered !== undefined) return answered;
    if (loop.started >= route.maxAttempts || budgetLeft(loop) <= 0) break;
  }
  throw loop.last ?? new KeelError('KEEL_UPSTREAM_UNAVAILABLE', `every target of \`${route.name}\` is unavailable right now (circuit open); retry shortly.`);
}

/** Attempts on one target, with retries. Returns the answer, or undefined to move on. */
async function onTarget(loop: Loop, target: ResolvedTarget): Promise<CallResult | undefined> {
  const { route, rec } = loop;
  for (let retry = 0; loop.started < route.maxAttempts; retry++) {
    const reason: AttemptReason = loop.started === 0 ? 'primary' : retry > 0 ? 'retry' : 'fallback';
    if (retry > 0) rec.retries++;
    const s = reason === 'primary' && route.hedge !== undefined ? await hedged(loop, target) : await startAttempt(loop, target, reason).promise;
    if (s.outcome.ok) return s.outcome.result;
    if (s.outcome.committed) return afterBreak(loop, s);
    const decision = decide(s.cls ?? 'gateway_internal');
    if (decision === 'stop') throw s.outcome.error;
    if (decision === 'larger_context' && target.contextWindow !== undefined) loop.minContext = Math.max(loop.minContext ?? 0, target.contextWindow);
    if (decision !== 'retry_same' || retry >= route.retries.attempts) return undefined;
    const delay = retryDelay(retry, route.retries, s.outcome.error.retryAfterMs, loop.ctx.routing.random);
    if (delay === undefined || !(await waitToRetry(loop, delay))) return undefined;
    // A failed half-open probe re-opened the breaker: no retry into it.
    if (!breakerAllows(loop, target)) return undefined;
  }
  return undefined;
}

/**
 * Hedging: when the primary has not answered (first token, or whole body) within the
 * hedge delay, the same request also goes to the next target; the first to answer
 * wins and the other is cancelled. Both failing returns the primary's failure.
 */
async function hedged(loop: Loop, primary: ResolvedTarget): Promise<Settled> {
  const a = startAttempt(loop, primary, 'primary');
  const cfg = loop.route.hedge;
  const delay = cfg === undefined ? undefined : hedgeDelay(cfg, loop.ctx.routing.health.latency(primary));
  if (cfg === undefined || delay === undefined) return a.promise;
  const timer = new Abort();
  const due = await Promise.race([
    a.promise.then(() => false),
    a.claimed.then(() => false),
    sleepUnless(delay, timer),
  ]);
  timer.abort();
  const partner = due ? loop.plan.find((t) => untried(loop, t)) : undefined;
  if (partner === undefined || !loop.ctx.routing.health.hedgeGate(loop.route.name).tryHedge(cfg.max_share) || !breakerAllows(loop, partner)) return a.promise;
  loop.rec.hedged = true;
  const b = startAttempt(loop, partner, 'hedge');
  const both = await Promise.all([a.promise, b.promise]);
  return both.find((s) => s.outcome.ok || s.outcome.committed) ?? both[0];
}

/**
 * Tokens already reached the caller and the stream broke. Continue the answer on another
 * target: one that accepts an assistant prefill, else (continuation: regenerate) any other,
 * which answers anew and is relayed only from the point the caller reached, if its answer
 * starts with exactly what was sent. When none can, or it fails before adding a token (a
 * rejected prefill, a regenerated answer that differs), end with the original failure as an
 * in-band error event. Never a clean end on a truncated answer.
 */
async function afterBreak(loop: Loop, broken: Settled): Promise<CallResult> {
  const answer = loop.session?.answer;
  const error = broken.outcome.ok ? undefined : broken.outcome.error;
  if (error === undefined) throw new KeelError('KEEL_INTERNAL', 'afterBreak called on a success');
  // Only a provider's break is continued: a caller's cut or Keel's (shutdown) ends the stream here.
  if (broken.cls === undefined || familyOf(broken.cls) !== 'provider' || loop.route.continuation === 'off' || answer === undefined || loop.started >= loop.route.maxAttempts || budgetLeft(loop) <= 0) return finishBroken(loop, error);
  // Breakers are asked only of the target chosen: asking takes a half-open probe slot.
  const other = (t: ResolvedTarget) => HealthRegistry.key(t) !== HealthRegistry.key(broken.target);
  const viaPrefill = loop.plan.find((t) => t.provider.prefill && other(t));
  const prefill = viaPrefill === undefined ? undefined : prefillOf(answer);
  let cont: Settled;
  if (viaPrefill !== undefined && prefill !== undefined && breakerAllows(loop, viaPrefill)) {
    loop.owner = undefined;
    cont = await startAttempt(loop, viaPrefill, 'continuation', extend(loop.req, { prefill }), 'prefill').promise;
  } else {
    const anew = loop.route.continuation === 'regenerate' && !answer.beyondText ? loop.plan.find(other) : undefined;
    if (anew === undefined || !breakerAllows(loop, anew)) return finishBroken(loop, error);
    loop.owner = undefined;
    cont = await startAttempt(loop, anew, 'continuation', loop.req, 'regenerate').promise;
  }
  if (cont.outcome.ok) {
    loop.rec.continued = true;
    return cont.outcome.result;
  }
  // A regenerated answer that differed was Keel's to stop: the caller learns of the original break.
  const own = cont.outcome.committed && cont.outcome.error.code !== 'KEEL_REGENERATION_DIVERGED';
  return finishBroken(loop, own ? cont.outcome.error : error);
}

/**
 * Ends a broken stream with an explicit error event (DESIGN.md §6); a stream cut by shutdown
 * too (gateway_shutdown: truncated, the route's failure; its attempt left the breaker untouched).
 */
function finishBroken(loop: Loop, error: KeelError): CallResult {
  const answer = loop.session?.answer;
  if (answer !== undefined) loop.session?.sink.end(answer.encoder.error(error));
  // A caller who left or stopped reading cut its own stream: that is not a truncated answer.
  const callerCut = familyOf(error.errorClass) === 'caller';
  loop.rec.streamTruncated = !callerCut;
  loop.rec.errorCode = error.code;
  loop.rec.errorClass = error.errorClass;
  loop.rec.upstreamCode = error.upstreamCode;
  if (callerCut) loop.rec.status = error.status;
  return { kind: 'streamed' };
}
