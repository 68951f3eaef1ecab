import type { KeelError } from '../errors.js';

/**
 * The closed set of reasons an upstream attempt failed, and what each means for
 * the request. Only provider-attributable classes count against a target's
 * breaker and (later) its SLO budget.
 */
export type FailureClass =
  | 'caller_fault'
  | 'rate_limit'
  | 'transient'
  | 'timeout'
  | 'credential'
  | 'quota'
  | 'context_length'
  | 'content_policy'
  | 'client_closed'
  /** Keel stopped the attempt itself (a hedge that lost): says nothing about the target. */
  | 'cancelled'
  | 'unknown';

export type Decision = 'retry_same' | 'fall_back' | 'larger_context' | 'stop';

const CONTEXT = /context.length|prompt is too long|maximum context|too many tokens|context window/i;
const POLICY = /content.?policy|safety system|content.filter|flagged/i;

export function classify(err: KeelError): FailureClass {
  switch (err.code) {
    case 'KEEL_CLIENT_CLOSED':
      return 'client_closed';
    case 'KEEL_ATTEMPT_CANCELLED':
      return 'cancelled';
    case 'KEEL_UPSTREAM_REJECTED':
      if (err.upstreamCode === 'context_length_exceeded' || CONTEXT.test(err.message)) return 'context_length';
      if (err.upstreamCode === 'content_policy_violation' || err.upstreamCode === 'content_filter' || POLICY.test(err.message)) return 'content_policy';
      return 'caller_fault';
    case 'KEEL_UPSTREAM_RATE_LIMITED':
      // OpenAI reports an exhausted balance as a 429 with this code: waiting does not help.
      return err.upstreamCode === 'insufficient_quota' ? 'quota' : 'rate_limit';
    case 'KEEL_UPSTREAM_AUTH':
      return 'credential';
    case 'KEEL_UPSTREAM_TIMEOUT':
      return 'timeout';
    case 'KEEL_UPSTREAM_ERROR':
    case 'KEEL_UPSTREAM_UNAVAILABLE':
    case 'KEEL_UPSTREAM_BAD_RESPONSE':
    case 'KEEL_STREAM_BROKEN':
      return 'transient';
    default:
      return 'unknown';
  }
}

/**
 * What to do next. A timeout moves on at once: a silent provider is likely to stay
 * silent, and retrying it would spend the caller's whole budget waiting.
 */
export function decide(cls: FailureClass): Decision {
  switch (cls) {
    case 'caller_fault':
    case 'content_policy':
    case 'client_closed':
    case 'cancelled':
      return 'stop';
    case 'context_length':
      return 'larger_context';
    case 'rate_limit':
    case 'transient':
      return 'retry_same';
    case 'timeout':
    case 'credential':
    case 'quota':
    case 'unknown':
      return 'fall_back';
  }
}

/** Attempts that ended without a verdict on the target: a half-open probe slot is freed, not judged. */
export function isVerdictless(cls: FailureClass): boolean {
  return cls === 'client_closed' || cls === 'cancelled';
}

/** Failures that say something about the target's health (breaker input, SLO "bad" events). */
export function countsAgainstTarget(cls: FailureClass): boolean {
  return cls !== 'caller_fault' && cls !== 'content_policy' && cls !== 'context_length' && cls !== 'client_closed' && cls !== 'cancelled';
}
