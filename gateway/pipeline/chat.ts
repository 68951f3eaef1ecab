import { KeelError, toKeelError } from '../errors.js';
import type { ChatRequest } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import type { WireFormat } from '../formats/types.js';
import { ClientSink } from '../relay/sink.js';
import { newStreamStats } from '../relay/stats.js';
import { relayStream } from '../relay/stream.js';
import { pickWeighted } from '../routing/weighted.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { writeSse } from '../sse/read.js';
import { transportError, type UpstreamResponse } from '../upstream/send.js';
import { retryAfterMs, upstreamStatusError } from '../upstream/status.js';
import { answerHeaders, attemptController, findRoute, finishRecord, newRecord, sendToTarget, type CallContext, type CallResult } from './context.js';
import type { CompletedRequest, RequestObserver } from './record.js';

/** One upstream attempt and everything it needs. */
interface Attempt {
  ctx: CallContext;
  req: ChatRequest;
  route: ResolvedRoute;
  target: ResolvedTarget;
  upstream: WireFormat;
  rec: CompletedRequest;
  headers: Record<string, string>;
  controller: AbortController;
}

/**
 * One chat request, either ingress format, top to bottom: parse → route →
 * pick a target → translate → send → relay. A single exit emits the record.
 */
export async function runChat(ctx: CallContext, observer?: RequestObserver): Promise<CallResult> {
  const rec = newRecord(ctx, 'chat');
  let failure: KeelError | undefined;
  try {
    const req = ctx.ingress.parseRequest(ctx.body);
    rec.requestModel = req.model;
    rec.stream = req.stream;
    const route = findRoute(ctx.runtime, req.model);
    rec.route = route.name;
    const target = pickWeighted(route.targets, (t) => t.weight);
    if (target === undefined) throw new KeelError('KEEL_INTERNAL', `route ${route.name} has no targets`);
    rec.provider = target.provider.name;
    rec.providerType = target.provider.adapter.type;
    return await runAttempt(ctx, req, route, target, rec);
  } catch (err) {
    failure = toKeelError(err);
    throw failure;
  } finally {
    observer?.(finishRecord(rec, ctx, failure));
  }
}

async function runAttempt(ctx: CallContext, req: ChatRequest, route: ResolvedRoute, target: ResolvedTarget, rec: CompletedRequest): Promise<CallResult> {
  const upstream = formats[target.provider.adapter.format];
  const body = upstream.buildRequest(req, target.model, { forceStreamUsage: true });
  const { controller, dispose } = attemptController(ctx, route.timeouts.total_ms);
  const headers = answerHeaders(ctx, route, target);
  const a: Attempt = { ctx, req, route, target, upstream, rec, headers, controller };
  try {
    const res = await sendToTarget(route, target, target.provider.adapter.chatPath, body, controller.signal);
    await rejectErrorStatus(res, a);
    return req.stream ? await relayChatStream(res, a) : await relayJson(res, a);
  } finally {
    dispose();
  }
}

async function rejectErrorStatus(res: UpstreamResponse, a: Attempt): Promise<void> {
  if (res.statusCode < 400) return;
  const text = await res.body.text().catch(() => '');
  throw upstreamStatusError(res.statusCode, text, a.upstream, a.target.provider.name, retryAfterMs(res.headers['retry-after']));
}

async function relayJson(res: UpstreamResponse, a: Attempt): Promise<CallResult> {
  let text: string;
  try {
    text = await res.body.text();
  } catch (err) {
    throw transportError(err, a.target.provider.name, a.controller.signal);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${a.target.provider.name} returned a body that is not JSON`);
  }
  const parsed = a.upstream.parseResponse(json);
  a.rec.usage = parsed.usage;
  a.rec.responseModel = parsed.model;
  a.rec.finishReason = parsed.choices[0]?.finishReason;
  // Same format: the provider's bytes as they came, so fields Keel does not model survive.
  const out = a.upstream.id === a.ctx.ingress.id ? text : JSON.stringify(a.ctx.ingress.renderResponse(parsed));
  return { kind: 'json', headers: { ...a.headers, 'content-type': 'application/json' }, body: out };
}

async function relayChatStream(res: UpstreamResponse, a: Attempt): Promise<CallResult> {
  const { ctx, req, rec } = a;
  const encoder = ctx.ingress.createStreamEncoder(req);
  const sameFormat = a.upstream.id === ctx.ingress.id;
  const stats = newStreamStats(ctx.receivedAt);
  const sink = new ClientSink(ctx.res, () => a.headers, ctx.hijack);
  const outcome = await relayStream({
    body: res.body,
    decoder: a.upstream.createStreamDecoder(),
    // Keel always asks for stream usage; a caller who did not gets no usage-only chunk.
    render: sameFormat
      ? (sse, events) => (!req.streamUsage && events.length > 0 && events.every((e) => e.type === 'usage') ? '' : writeSse(sse))
      : (_sse, events) => events.map((e) => encoder.encode(e)).join(''),
    finalise: sameFormat ? () => encoder.terminator() : () => encoder.encode({ type: 'end' }),
    sink,
    stats,
    ttftMs: a.route.timeouts.ttft_ms,
    idleMs: a.route.timeouts.idle_ms,
    abort: (err) => a.controller.abort(err),
    signal: a.controller.signal,
    providerName: a.target.provider.name,
  });
  rec.usage = stats.usage;
  rec.responseModel = stats.responseModel;
  rec.finishReason = stats.finishReason;
  rec.ttftMs = stats.firstTokenAt === undefined ? undefined : stats.firstTokenAt - ctx.receivedAt;
  rec.interTokenMs = stats.gaps;
  rec.malformedChunks = stats.malformed;
  rec.endSynthesized = stats.endSynthesized;
  if (outcome.ok) return { kind: 'streamed' };
  if (!outcome.committed) throw outcome.error;
  // Tokens already reached the caller: end with an explicit error event, never a clean end.
  sink.end(encoder.error(outcome.error));
  res.body.destroy();
  rec.streamTruncated = outcome.error.code !== 'KEEL_CLIENT_CLOSED';
  rec.errorCode = outcome.error.code;
  rec.upstreamCode = outcome.error.upstreamCode;
  if (outcome.error.code === 'KEEL_CLIENT_CLOSED') rec.status = outcome.error.status;
  return { kind: 'streamed' };
}
