import { familyOf, KeelError, toKeelError } from '../errors.js';
import { captureInput } from '../telemetry/content.js';
import { runAttempts } from './attempts.js';
import { findRoute, finishRecord, newRecord, routeNamed, type CallContext, type CallResult } from './context.js';
import type { RequestObserver } from './record.js';

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
    const result = await runAttempts(ctx, req, route, rec);
    // A stream Keel itself cut (shutdown) is the route's failure, not the target's that was answering.
    const ours = rec.errorClass !== undefined && familyOf(rec.errorClass) === 'gateway';
    const answered = ours ? undefined : rec.attempts[rec.attempts.length - 1];
    rec.provider = answered?.provider;
    rec.providerType = answered?.providerType;
    return result;
  } catch (err) {
    failure = toKeelError(err);
    rec.route ??= routeNamed(ctx);
    // Keel's own failure is the route's, never a target's (DESIGN.md §8): per-provider SLIs do not see it.
    const tried = familyOf(failure.errorClass) === 'gateway' ? undefined : rec.attempts[rec.attempts.length - 1];
    rec.provider ??= tried?.provider;
    rec.providerType ??= tried?.providerType;
    throw failure;
  } finally {
    observer?.(finishRecord(rec, ctx, failure));
  }
}
