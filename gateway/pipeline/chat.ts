import { familyOf, toKeelError, type ErrorClass, type KeelError } from '../errors.js';
import { answering } from '../telemetry/attributes.js';
import { captureInput } from '../telemetry/content.js';
import { runAttempts } from './attempts.js';
import { findRoute, finishRecord, newRecord, routeNamed, type CallContext, type CallResult } from './context.js';
import type { CompletedRequest, RequestObserver } from './record.js';
import { outboundOf, runStages, stagesFor, type StageRequest } from '../stages/index.js';

/**
 * One chat request, either ingress format, top to bottom: parse → route → attempts
 * (plan, translate, send, relay, retry, fall back). A single exit emits the record.
 */
export async function runChat(ctx: CallContext, observer?: RequestObserver): Promise<CallResult> {
  const rec = newRecord(ctx, 'chat');
  let failure: KeelError | undefined;
  try {
    const req = ctx.ingress.parseRequest(ctx.body);
    rec.requestModel = req.model;
    rec.stream = req.stream;
    if (ctx.runtime.config.telemetry.capture_content) rec.content = captureInput(req);
    const route = findRoute(ctx.runtime, req.model);
    rec.route = route.name;
    const sr: StageRequest = { call: ctx, req, route, rec };
    const result = await runStages(stagesFor(ctx.runtime, route), sr, (afters) => {
      ctx.outbound = outboundOf(afters);
      return runAttempts(ctx, sr.req, route, rec);
    }, ctx.routing.log);
    // A stream that broke in-band carries its class on the record (a shutdown cut is Keel's).
    attributeProvider(rec, rec.errorClass);
    return result;
  } catch (err) {
    failure = toKeelError(err);
    rec.route ??= routeNamed(ctx);
    attributeProvider(rec, failure.errorClass);
    throw failure;
  } finally {
    observer?.(finishRecord(rec, ctx, failure));
  }
}

/**
 * The provider a record names: the answering attempt's, or for a failure the last attempt's, unless Keel's own failure ended the request.
 * That is the route's, never a target's (DESIGN.md §8), so per-provider SLIs do not see it.
 */
export function attributeProvider(rec: CompletedRequest, cls: ErrorClass | undefined): void {
  // Answered: the attempt that answered, if any (none for a cache hit or a stale rescue: no provider earned it).
  const last = cls === undefined ? answering(rec) : familyOf(cls) === 'gateway' ? undefined : rec.attempts[rec.attempts.length - 1];
  rec.provider ??= last?.provider;
  rec.providerType ??= last?.providerType;
}
