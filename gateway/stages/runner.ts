import { familyOf, KeelError, toKeelError } from '../errors.js';
import type { CallResult } from '../pipeline/context.js';
import { outboundOf } from './outbound.js';
import type { Stage, StageAfter, StageOutcome, StageRequest } from './types.js';

/**
 * Runs a route's stages around `inner` (the attempt loop): every `pre` in order, then the call,
 * then the `post` of every stage whose `pre` ran, in reverse order, whatever happened (in the
 * background: the answer does not wait for them). A stage's
 * refusal (a caller_* KeelError: over a limit, forbidden, blocked) short-circuits; its own
 * failure follows its policy (DESIGN.md §7).
 */
export async function runStages(stages: readonly Stage[], sr: StageRequest, inner: (afters: readonly StageAfter[]) => Promise<CallResult>, log: (msg: string) => void): Promise<CallResult> {
  const afters: StageAfter[] = [];
  let outcome: StageOutcome = { ok: true, error: undefined };
  try {
    for (const stage of stages) {
      let after: StageAfter | undefined;
      // Inline, and no await for a stage that answers synchronously (auth, guardrails): each async
      // hop here was a promise and a resumption per stage per request (bench:alloc, issue 18).
      try {
        const pending = stage.pre(sr);
        after = pending instanceof Promise ? await pending : pending;
      } catch (err) {
        after = stageFailed(stage, sr, err, log);
      }
      if (after === undefined) continue;
      // A stage that answers (a cache hit) ends the way in: the stages before it see the answer go out.
      if (after.serve !== undefined) return await after.serve(outboundOf(afters));
      afters.push(after);
    }
    const result = await innerOrRescue(afters, inner);
    // A stream that ended in-band with an error reports it on the record.
    if (sr.rec.errorCode !== undefined) outcome = { ok: false, error: undefined };
    return result;
  } catch (err) {
    outcome = { ok: false, error: toKeelError(err) };
    throw err;
  } finally {
    // After the answer, not before it: reconciling a budget or a TPM count is a state round
    // trip each, and the caller must not wait for Keel's bookkeeping. Posts still run in
    // reverse order, one after the other; a reservation stays counted until its post lands.
    if (afters.length > 0) void runPosts(afters.reverse(), outcome, log);
  }
}

/** The attempt loop; when it fails for a reason not the caller's, the innermost stage that can rescue answers instead. */
async function innerOrRescue(afters: readonly StageAfter[], inner: (afters: readonly StageAfter[]) => Promise<CallResult>): Promise<CallResult> {
  try {
    return await inner(afters);
  } catch (err) {
    const error = toKeelError(err);
    if (familyOf(error.errorClass) === 'caller') throw error;
    for (let i = afters.length - 1; i >= 0; i--) {
      const rescued = await afters[i]?.rescue?.(error, outboundOf(afters.slice(0, i)));
      if (rescued !== undefined) return rescued;
    }
    throw error;
  }
}

async function runPosts(afters: readonly StageAfter[], outcome: StageOutcome, log: (msg: string) => void): Promise<void> {
  for (const after of afters) {
    if (after.post === undefined) continue;
    try {
      const pending = after.post(outcome);
      if (pending instanceof Promise) await pending;
    } catch (err) {
      // The answer has gone out: a post that fails (state unreachable at reconcile) is logged, never the caller's.
      log(`stage post failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** A stage's own failure (not a refusal): fail-open goes on without it (undefined), fail-closed fails the request. */
function stageFailed(stage: Stage, sr: StageRequest, err: unknown, log: (msg: string) => void): undefined {
  if (err instanceof KeelError && familyOf(err.errorClass) === 'caller') throw err;
  const why = err instanceof Error ? err.message : String(err);
  log(`stage ${stage.name} failed (${stage.policy}): ${sr.call.runtime.redact(why)}`);
  if (stage.policy === 'fail-open') return undefined;
  throw new KeelError('KEEL_STAGE_FAILED', `Keel could not check this request (${stage.name}); nothing was sent to a provider. Retry shortly.`, { cause: err });
}
