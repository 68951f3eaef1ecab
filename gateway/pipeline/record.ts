import type { FinishReason, Usage } from '../formats/canonical.js';
import type { ErrorClass, ErrorCode, KeelError } from '../errors.js';
import type { ResolvedTarget } from '../runtime/resolve.js';
import type { CapturedContent } from '../telemetry/content.js';
import type { TraceIds } from '../telemetry/trace-ids.js';
import type { RuleDecision } from '../routing/rules.js';

/**
 * Everything the gateway knows about one finished request: the seam where
 * telemetry (spans, metrics) plugs in. Emitted once per request, after the
 * response is complete, from a single exit point.
 */
export type AttemptReason = 'primary' | 'retry' | 'fallback' | 'hedge' | 'continuation';

/** One upstream attempt, as the request's record keeps it. */
export interface AttemptInfo {
  provider: string;
  /** OTel gen_ai.provider.name of that provider. */
  genAiProvider: string;
  providerType: string;
  model: string;
  reason: AttemptReason;
  /** ms from request arrival. */
  startMs: number;
  durationMs: number;
  /** ms from the attempt's start to its first token (streams). */
  ttftMs: number | undefined;
  ok: boolean;
  errorCode: ErrorCode | undefined;
  /** The provider's own error code or type, when it sent one. */
  upstreamCode: string | undefined;
  /** Who was at fault, when the attempt failed (DESIGN.md §8). */
  errorClass: ErrorClass | undefined;
  /** Host and port the attempt went to (OTel server.address / server.port). */
  serverAddress: string;
  serverPort: number;
  /** USD per million tokens for this target, when known. */
  price: Price | undefined;
  /** The attempt's CLIENT span id, sent upstream in its traceparent (absent: the span gets a fresh one). */
  spanId?: string;
}

export interface Price {
  input: number;
  output: number;
  cache_read?: number;
}

/** What a guardrail did to a request or its answer: the rule and how often, never the matched text. */
export interface GuardrailVerdict {
  direction: 'in' | 'out';
  rule: string;
  detector: string;
  action: 'block' | 'redact' | 'log';
  count: number;
}

/** What the response cache did for a request (gateway/stages/cache.ts); undefined: the route has no cache. */
export interface CacheInfo {
  status: 'miss' | 'exact' | 'semantic' | 'stale' | 'bypass';
  /** Cosine similarity of a semantic hit. */
  similarity?: number;
  /** Time spent looking up (embedding included for semantic), ms. */
  lookupMs?: number;
  /** Age of the entry served, s. */
  ageS?: number;
  /** What the answer cost when it was bought: what a hit saved. */
  savedUsd?: number;
  /** The answer was stored for later requests. */
  stored?: boolean;
  /** The semantic lookup's embedding call: its time and cost (also on its own span). */
  embeddingMs?: number;
  embeddingCostUsd?: number;
}

export interface CompletedRequest {
  requestId: string;
  operation: 'chat' | 'embeddings';
  /** Wall-clock arrival, ms since the epoch (sub-ms precision from the monotonic clock). */
  startedAtMs: number;
  traceparent: string | undefined;
  tracestate: string | undefined;
  /** Ids decided on arrival (trace-ids.ts), so attempts can name their spans upstream; absent: the spans get fresh ones. */
  trace?: TraceIds;
  ingressFormat: string;
  route: string | undefined;
  provider: string | undefined;
  providerType: string | undefined;
  requestModel: string | undefined;
  responseModel: string | undefined;
  stream: boolean;
  clientId: string | undefined;
  team: string | undefined;
  /** Guardrail verdicts on the request (in) and the answer (out). */
  guardrails: GuardrailVerdict[];
  customer: string | undefined;
  /** The key's configured tags (auth.keys[].metadata), for its spans; never the key itself. */
  keyMetadata: Readonly<Record<string, string>>;
  configVersion: number;
  /** HTTP status the caller saw (200 for a stream that later broke in-band). */
  status: number;
  errorCode: ErrorCode | undefined;
  errorClass: ErrorClass | undefined;
  upstreamCode: string | undefined;
  /** Milliseconds, from request arrival. */
  durationMs: number;
  /** Milliseconds from request arrival to the first token (streams only). */
  ttftMs: number | undefined;
  /** Gaps between token chunks, ms (streams only). */
  interTokenMs: readonly number[];
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;
  malformedChunks: number;
  /** The stream was cut short and the caller got an error event. */
  streamTruncated: boolean;
  /** Keel wrote the end marker the upstream omitted. */
  endSynthesized: boolean;
  attempts: AttemptInfo[];
  /** Targets beyond the first that were tried. */
  fallbacks: number;
  retries: number;
  /** A hedge attempt was started for this request. */
  hedged: boolean;
  /** A broken stream was completed by a continuation on another target. */
  continued: boolean;
  weightsVersion: string;
  /** Prompt and answer, only when telemetry.capture_content is on. */
  content: CapturedContent | undefined;
  cache: CacheInfo | undefined;
  /** The route's rules that matched, in order (gateway/routing/rules.ts); absent: none did. */
  routeRules?: readonly RuleDecision[];
}

export type RequestObserver = (record: CompletedRequest) => void;

/** The record's view of one attempt: who it went to, when, and how it ended. */
export function attemptInfo(
  target: ResolvedTarget,
  a: { reason: AttemptReason; startMs: number; durationMs: number; ttftMs: number | undefined; error: KeelError | undefined; spanId?: string },
): AttemptInfo {
  return {
    spanId: a.spanId,
    provider: target.provider.name,
    genAiProvider: target.provider.genAiName,
    providerType: target.provider.adapter.type,
    model: target.model,
    reason: a.reason,
    startMs: a.startMs,
    durationMs: a.durationMs,
    ttftMs: a.ttftMs,
    ok: a.error === undefined,
    errorCode: a.error?.code,
    upstreamCode: a.error?.upstreamCode,
    errorClass: a.error?.errorClass,
    serverAddress: target.provider.address,
    serverPort: target.provider.port,
    price: target.price,
  };
}
