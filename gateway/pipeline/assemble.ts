import { KeelError } from '../errors.js';
import { ResponseAccumulator } from '../cache/accumulate.js';
import type { WireFormat } from '../formats/types.js';
import { newStreamStats } from '../relay/stats.js';
import { relayStream, type RelaySink } from '../relay/stream.js';
import type { Watchdog } from '../relay/watchdog.js';
import type { Abort } from '../upstream/abort.js';
import type { UpstreamResponse } from '../upstream/send.js';
import { answerJson, type AttemptInput, type AttemptOutcome } from './attempt.js';

/** Nothing reaches the caller while a stream is assembled: every failure before its end fails over cleanly. */
const NOWHERE: RelaySink = { write: () => undefined, end: () => undefined, closed: false };

// Made only when needed: a KeelError captures a stack, too dear to build on every request.
const tooLarge = (a: AttemptInput) =>
  new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${a.target.provider.name} streamed more than ${a.target.responseLimits.max_bytes} bytes`, { upstreamCode: 'response_too_large' });

interface Assembly {
  controller: Abort;
  started: number;
  /** Armed with ttft_ms since the request was sent. */
  watchdog: Watchdog;
}

/**
 * A non-streaming caller's answer, streamed upstream and assembled here: the stream relay's
 * clocks (ttft_ms to the first token, idle_ms between chunks), its limits and its judgement of
 * a complete answer (a finish reason, no in-band error, no cut), then one JSON body in the
 * caller's format, rendered from the canonical answer. Since nothing was sent to the caller,
 * a stream that breaks anywhere is an ordinary failed attempt, never a committed one.
 */
export async function relayAssembled(res: UpstreamResponse, upstream: WireFormat, a: AttemptInput, st: Assembly): Promise<AttemptOutcome> {
  const acc = new ResponseAccumulator();
  const stats = newStreamStats(st.started);
  // What a JSON body may hold (response_limits.max_bytes) bounds an assembled one too.
  let bytes = 0;
  const outcome = await relayStream({
    body: res.body,
    decoder: upstream.createStreamDecoder(),
    render: (sse, events) => {
      bytes += sse.data.length;
      if (bytes > a.target.responseLimits.max_bytes) st.controller.abort(tooLarge(a));
      acc.pushAll(events);
      return '';
    },
    finalise: () => '',
    sink: NOWHERE,
    stats,
    watchdog: st.watchdog,
    idleMs: a.target.timeouts.idle_ms,
    maxEventBytes: a.target.responseLimits.max_event_bytes,
    maxBytes: a.target.responseLimits.max_bytes,
    abort: (err) => st.controller.abort(err),
    signal: st.controller,
    providerName: a.target.provider.name,
    redact: a.ctx.runtime.redact,
    // The answer is claimed whole, like a JSON body (answerJson): a hedge races complete answers.
    claim: () => true,
  });
  if (!outcome.ok) {
    res.body.destroy();
    return { ok: false, error: outcome.error, committed: false, stats: undefined };
  }
  a.rec.malformedChunks += stats.malformed;
  const answer = acc.response();
  // The usage the stream reported (some upstreams put it on the start event only).
  if (stats.usage !== undefined) answer.usage = stats.usage;
  const ttftMs = stats.firstTokenAt === undefined ? undefined : stats.firstTokenAt - st.started;
  return { ok: true, result: answerJson(answer, a, undefined), ttftMs, stats: undefined };
}
