import { KeelError } from '../errors.js';
import type { StreamEvent } from '../formats/canonical.js';
import type { WireFormat } from '../formats/types.js';
import { newStreamStats } from '../relay/stats.js';
import { relayStream } from '../relay/stream.js';
import type { Watchdog } from '../relay/watchdog.js';
import { writeSse } from '../sse/read.js';
import { outputOfText } from '../telemetry/content.js';
import type { Abort } from '../upstream/abort.js';
import type { UpstreamResponse } from '../upstream/send.js';
import type { AttemptInput, AttemptOutcome } from './attempt.js';
import { newAnswer, observeAnswer, regeneration, type AnswerSoFar, type StreamSession } from './session.js';

/**
 * The caller-format text for one upstream event. Pass-through keeps the provider's
 * bytes; a translated stream, or a continuation (which must read as the same answer),
 * goes through the caller's encoder. In pass-through the encoder is still fed when a
 * continuation may follow, so it knows what the caller has already seen.
 */
function renderer(a: AttemptInput, answer: AnswerSoFar, sameFormat: boolean, adjust: ((events: StreamEvent[]) => StreamEvent[]) | undefined, controller: Abort) {
  const filter = answer.filter;
  // A stage that may change the stream (guardrails) needs the caller's encoder: bytes cannot be passed through.
  const viaEncoder = !sameFormat || adjust !== undefined || filter !== undefined;
  return (sse: Parameters<typeof writeSse>[0], raw: StreamEvent[]): string => {
    let events = adjust === undefined ? raw : adjust(raw);
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

/**
 * How a continuation's events join the answer the caller has: a prefill continuation's are the
 * rest already; a regenerated answer's are cut to what follows the part sent, and the attempt
 * is stopped the moment its text departs from that part (the caller then gets the original
 * break as an error event: afterBreak).
 */
function adjuster(a: AttemptInput, answer: AnswerSoFar, controller: Abort): ((events: StreamEvent[]) => StreamEvent[]) | undefined {
  if (a.continuing === 'prefill') return answer.continuation;
  if (a.continuing !== 'regenerate') return undefined;
  const stop = () => controller.abort(new KeelError('KEEL_REGENERATION_DIVERGED', `provider ${a.target.provider.name}: the regenerated answer does not start with the text already sent`));
  return regeneration(answer.text, stop);
}

export async function relayChatStream(res: UpstreamResponse, upstream: WireFormat, a: AttemptInput, st: StreamAttempt): Promise<AttemptOutcome> {
  const { session: s, controller, started } = st;
  const sameFormat = upstream.id === a.ctx.ingress.id;
  // A continuation extends the answer the caller already has; any other attempt starts its own.
  const continuing = s.answer !== undefined && a.continuing !== undefined;
  const answer = continuing && s.answer !== undefined ? s.answer : newAnswer(a.ctx.ingress.createStreamEncoder(a.req), s.shadow, s.filter?.());
  const stats = newStreamStats(started);
  const outcome = await relayStream({
    body: res.body,
    decoder: upstream.createStreamDecoder(),
    render: renderer(a, answer, sameFormat, continuing ? adjuster(a, answer, controller) : undefined, controller),
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
