import { performance } from 'node:perf_hooks';
import { familyOf, KeelError } from '../errors.js';
import type { SseEvent, StreamEvent } from '../formats/canonical.js';
import type { StreamDecoder } from '../formats/types.js';
import { EventTooLarge, readSse } from '../sse/read.js';
import type { AbortLike } from '../upstream/abort.js';
import { transportError } from '../upstream/send.js';
import { observe, type StreamStats } from './stats.js';
import { Watchdog } from './watchdog.js';
import type { Redactor } from '../redact.js';

/** After the finish reason, how long to wait for the end marker before finalising ourselves. */
const END_GRACE_MS = 500;

/** Where a relayed stream's caller-format text goes: the caller (ClientSink), or nowhere while Keel assembles one JSON answer. */
export interface RelaySink {
  /** A promise while the caller's buffer is full (backpressure). */
  write(text: string): Promise<void> | undefined;
  end(text?: string): void;
  /** The caller left or was cut. */
  readonly closed: boolean;
}

export interface StreamRelayOptions {
  body: AsyncIterable<Uint8Array>;
  decoder: StreamDecoder;
  /** The caller-format SSE text for one upstream event (pass-through or translated). */
  render: (sse: SseEvent, events: StreamEvent[]) => string;
  /** The end marker Keel writes when the upstream finished the answer but sent none. */
  finalise: () => string;
  sink: RelaySink;
  stats: StreamStats;
  /**
   * Already armed with ttft_ms when the request was sent (a provider that sends nothing at
   * all is as silent as one that sends headers and no token); re-armed here for idle gaps.
   */
  watchdog: Watchdog;
  idleMs: number;
  /** responseLimits: the longest SSE event, and the most output held back before the first token. */
  maxEventBytes: number;
  maxBytes: number;
  /** Aborts the upstream request with this error as the reason. */
  abort: (err: KeelError) => void;
  signal: AbortLike;
  providerName: string;
  /** A provider's in-band error text reaches the caller's error event: secrets out first. */
  redact: Redactor;
  /**
   * Asked once, before the first byte would reach the caller: may this attempt answer?
   * False when a concurrent attempt (a hedge) already does; this one then stops.
   */
  claim: () => boolean;
}

/** `committed`: this relay wrote to the caller, so its failure can no longer be a clean error response. */
export type RelayOutcome = { ok: true } | { ok: false; error: KeelError; committed: boolean };

/**
 * Relays one upstream SSE stream to the caller, chunk by chunk. Output is held
 * back until the first token (or the end), so everything before it can still
 * fail cleanly. Never ends a truncated answer cleanly (DESIGN.md §6): the outcome
 * says what went wrong and the caller of this function writes the error event.
 */
export async function relayStream(o: StreamRelayOptions): Promise<RelayOutcome> {
  const watchdog = o.watchdog;
  // Made once: the watchdog is re-armed on every chunk.
  const onGrace = () => o.abort(graceEnd);
  const onIdle = () => o.abort(upstreamTimeout(o.providerName, 'stream idle too long', o.idleMs));
  let pending = '';
  let tokenSeen = false;
  let claimed = false;
  try {
    for await (const batch of readSse(o.body, o.maxEventBytes)) {
      const at = performance.now();
      let out = '';
      for (const sse of batch) {
        let events: StreamEvent[];
        try {
          events = o.decoder.decode(sse);
        } catch {
          o.stats.malformed++;
          continue;
        }
        tokenSeen = observe(o.stats, events, at) || tokenSeen;
        if (o.stats.upstreamError !== undefined && !tokenSeen) {
          return { ok: false, committed: false, error: upstreamStreamError(o) };
        }
        out += o.render(sse, events);
        if (o.stats.endSeen) break;
      }
      if (!tokenSeen && !o.stats.endSeen) {
        pending += out;
        if (pending.length > o.maxBytes) return { ok: false, committed: false, error: tooMuchBeforeToken(o) };
      } else {
        if (!claimed && !(claimed = o.claim())) return { ok: false, committed: false, error: lost(o) };
        const blocked = o.sink.write(pending + out);
        pending = '';
        if (blocked !== undefined) {
          // Waiting on the caller, not on the provider: no provider clock runs meanwhile.
          watchdog.pause();
          await blocked;
        }
      }
      // Stopped from inside render (a stage refused the answer): what was released went out; the
      // rest, even if the upstream has already sent it all, does not.
      if (o.signal.aborted && o.signal.reason !== graceEnd) return { ok: false, committed: claimed, error: streamError(o.signal.reason, o) };
      if (o.stats.endSeen || o.sink.closed) break;
      if (o.stats.finishReason !== undefined) watchdog.arm(Math.min(END_GRACE_MS, o.idleMs), onGrace);
      else if (tokenSeen) watchdog.arm(o.idleMs, onIdle);
    }
  } catch (err) {
    if (!(o.signal.aborted && o.signal.reason === graceEnd)) {
      return { ok: false, committed: claimed, error: streamError(err, o) };
    }
  } finally {
    watchdog.cancel();
  }
  // The caller left or was cut (stalled) mid-answer: its fault, whatever the upstream did meanwhile.
  if (o.sink.closed && !o.stats.endSeen) return { ok: false, committed: claimed, error: callerGone(o) };
  // An answer with no token at all (empty text) still needs the right to answer before it ends.
  const completes = o.stats.upstreamError === undefined && (o.stats.endSeen || o.stats.finishReason !== undefined);
  if (completes && !claimed && !o.claim()) return { ok: false, committed: false, error: lost(o) };
  return finish(o, pending, claimed);
}

/** A provider that stays silent past one of its deadlines (upstreamCode names which). */
export function upstreamTimeout(provider: string, what: string, ms: number): KeelError {
  return new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${provider}: ${what} (${ms} ms)`, { upstreamCode: what.replace(/ /g, '_') });
}

/** Why the caller's side closed: the request's abort says (stalled or disconnected). */
function callerGone(o: StreamRelayOptions): KeelError {
  if (o.signal.aborted && o.signal.reason instanceof KeelError && familyOf(o.signal.reason.errorClass) === 'caller') return o.signal.reason;
  return new KeelError('KEEL_CLIENT_CLOSED', 'the caller closed the connection');
}

function tooMuchBeforeToken(o: StreamRelayOptions): KeelError {
  return new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${o.providerName} sent more than ${o.maxBytes} bytes before its first token`, {
    upstreamCode: 'response_too_large',
  });
}

function lost(o: StreamRelayOptions): KeelError {
  return new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${o.providerName}: another attempt answered first`);
}

/** Marker reason: the post-finish grace ran out, which is a clean (if unterminated) end. */
const graceEnd = new KeelError('KEEL_STREAM_BROKEN', 'end marker grace elapsed');

async function finish(o: StreamRelayOptions, pending: string, claimed: boolean): Promise<RelayOutcome> {
  if (o.stats.upstreamError !== undefined) {
    await o.sink.write(pending);
    return { ok: false, committed: claimed, error: upstreamStreamError(o) };
  }
  if (!o.stats.endSeen) {
    if (o.stats.finishReason === undefined) {
      const error = new KeelError('KEEL_STREAM_BROKEN', `provider ${o.providerName}: stream ended before the answer was complete`, {
        upstreamCode: 'stream_truncated',
      });
      return { ok: false, committed: claimed, error };
    }
    o.stats.endSynthesized = true;
    pending += o.finalise();
  }
  o.sink.end(pending);
  return { ok: true };
}

function upstreamStreamError(o: StreamRelayOptions): KeelError {
  return new KeelError('KEEL_UPSTREAM_ERROR', `provider ${o.providerName} reported an error mid-stream: ${o.redact(o.stats.upstreamError ?? 'unknown')}`, {
    upstreamCode: 'stream_error',
  });
}

function streamError(err: unknown, o: StreamRelayOptions): KeelError {
  if (o.signal.aborted && o.signal.reason instanceof KeelError) return o.signal.reason;
  if (err instanceof EventTooLarge) {
    return new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${o.providerName} sent an SSE event longer than ${err.limit} bytes`, { upstreamCode: 'event_too_large' });
  }
  const mapped = transportError(err, o.providerName);
  if (mapped.code !== 'KEEL_UPSTREAM_ERROR') return mapped;
  return new KeelError('KEEL_STREAM_BROKEN', `provider ${o.providerName}: connection lost mid-stream`, { cause: err, upstreamCode: 'stream_broken' });
}
