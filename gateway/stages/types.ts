import type { KeelError } from '../errors.js';
import type { ChatRequest, ChatResponse, StreamEvent } from '../formats/canonical.js';
import type { CallContext, CallResult, Outbound } from '../pipeline/context.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ResolvedRoute, Runtime } from '../runtime/resolve.js';

/**
 * The request-stage contract (DESIGN.md §7): cross-cutting request work — auth, limits,
 * budgets, guardrails, cache — is a list of stages around the attempt loop, never `if`s in it.
 */

/** What a stage sees of one request. `req` may be replaced (a guardrail redacts it). */
export interface StageRequest {
  readonly call: CallContext;
  req: ChatRequest;
  readonly route: ResolvedRoute;
  readonly rec: CompletedRequest;
}

/** How the request ended, for the stages' `post` (reverse order). Usage and cost are on `rec`. */
export interface StageOutcome {
  ok: boolean;
  error: KeelError | undefined;
}

/** A streamed answer's events on their way to the caller; a block ends the stream with an in-band error. */
export interface StreamFilter {
  push(events: StreamEvent[]): { events: StreamEvent[]; blocked?: KeelError };
  /** The stream ended: anything held back, in order; `blocked` when what was held may not go out (the stream then ends with an error). */
  end(): { events: StreamEvent[]; blocked?: KeelError };
}

/** What a stage leaves for after the call, when its `pre` ran: all optional. */
export interface StageAfter {
  /** Runs once the request is over (answered, failed or streamed to the end), in reverse stage order. */
  post?(outcome: StageOutcome): Promise<void> | void;
  /** A non-streaming answer before it is rendered to the caller; throw a KeelError to refuse it. */
  answer?(res: ChatResponse): ChatResponse;
  /** A streamed answer, event by event. */
  stream?(): StreamFilter;
  /**
   * The stage answers the request itself (a cache hit): later stages' `pre` and the attempt
   * loop do not run; the `post` of every stage before it does. `outbound`: what those stages do
   * to answers (guardrails out), undefined when nothing.
   */
  serve?(outbound: Outbound | undefined): Promise<CallResult>;
  /**
   * The attempt loop failed for a reason not the caller's (every target down, every breaker
   * open) before anything reached the caller: the stage may answer instead (stale-if-error).
   */
  rescue?(error: KeelError, outbound: Outbound | undefined): Promise<CallResult | undefined>;
}

/**
 * One stage. `pre` runs before the attempt loop: it throws a KeelError to refuse the request
 * (a short-circuit with an error), or returns what it needs after the call. A stage that fails
 * for its own reasons (a bug, state it cannot read) is `fail-closed` (the request fails with
 * gateway_internal) or `fail-open` (logged, the request goes on) as it declares.
 */
export interface Stage {
  readonly name: string;
  readonly policy: 'fail-closed' | 'fail-open';
  /** Runs for chat only: it rewrites messages or answers, which an embeddings request does not have. */
  readonly chatOnly?: boolean;
  pre(sr: StageRequest): Promise<StageAfter | undefined> | StageAfter | undefined;
}

/** Builds a stage for one route of one config snapshot; undefined when it has nothing to do there (costs nothing). */
export type StageFactory = (runtime: Runtime, route: ResolvedRoute) => Stage | undefined;
