import { randomBytes } from 'node:crypto';

/**
 * W3C Trace Context ids decided when the request arrives, not when its spans are written: each
 * upstream attempt sends `traceparent` naming its own CLIENT span as the parent
 * (https://www.w3.org/TR/trace-context/#traceparent-header), so a provider that traces (vLLM,
 * a self-hosted model behind an OTel-instrumented server) joins the caller's trace under the
 * right span. spans.ts later writes the spans with these same ids.
 */
export interface TraceIds {
  traceId: string;
  /** The request's SERVER span. */
  spanId: string;
  /** trace-flags, two hex digits: the caller's, else sampled (01). */
  flags: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Random bytes come in blocks: one syscall serves many ids. */
const POOL = 4096;
let pool = Buffer.alloc(0);
let at = POOL;

function hex(bytes: number): string {
  if (at + bytes > pool.length) {
    pool = randomBytes(POOL);
    at = 0;
  }
  const out = pool.toString('hex', at, at + bytes);
  at += bytes;
  return out;
}

export function newSpanId(): string {
  const id = hex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}

/** The ids of a new request: in the caller's trace when it sent a valid traceparent, else a new trace. */
export function requestTrace(traceparent: string | undefined): TraceIds {
  const m = traceparent === undefined ? null : TRACEPARENT.exec(traceparent.trim().toLowerCase());
  const traceId = m?.[1];
  if (m !== null && traceId !== undefined && traceId !== ZERO_TRACE && m[2] !== ZERO_SPAN) return { traceId, spanId: newSpanId(), flags: m[3] ?? '01' };
  let id = hex(16);
  while (id === ZERO_TRACE) id = hex(16);
  return { traceId: id, spanId: newSpanId(), flags: '01' };
}

/** The traceparent an attempt sends upstream: this trace, its own span as the parent. */
export function traceparentOf(trace: TraceIds, spanId: string): string {
  return `00-${trace.traceId}-${spanId}-${trace.flags}`;
}

/** Where ids come from when the request decided none: random (tests pass a counter). */
export interface IdSource {
  traceId(): string;
  spanId(): string;
}

export const randomIds: IdSource = { traceId: () => requestTrace(undefined).traceId, spanId: newSpanId };

/** What recordSpans tells the span SDK's id source before each span. */
export interface IdPresets {
  preset(traceId: string | undefined, spanId: string | undefined): void;
}

/**
 * The span SDK's id source, told before each span which ids it must carry (the ones the request
 * decided on arrival and sent upstream); `fallback`'s when told nothing. startSpan asks for the
 * span id first, then for a trace id only for a root span (OTel JS Tracer.startSpan).
 */
export class PresetIds implements IdPresets {
  #traceId: string | undefined;
  #spanId: string | undefined;
  readonly #fallback: IdSource;

  constructor(fallback: IdSource = randomIds) {
    this.#fallback = fallback;
  }

  preset(traceId: string | undefined, spanId: string | undefined): void {
    this.#traceId = traceId;
    this.#spanId = spanId;
  }

  generateTraceId(): string {
    const id = this.#traceId ?? this.#fallback.traceId();
    this.#traceId = undefined;
    return id;
  }

  generateSpanId(): string {
    const id = this.#spanId ?? this.#fallback.spanId();
    this.#spanId = undefined;
    return id;
  }
}
