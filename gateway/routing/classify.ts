import { familyOf, type ErrorClass, type KeelError } from '../errors.js';

/**
 * What a failed attempt means for the request. The class itself is the error's
 * (`KeelError.errorClass`, one closed taxonomy in errors.ts); this file only says
 * what to do next and whether the target pays for it.
 */
export type Decision = 'retry_same' | 'fall_back' | 'larger_context' | 'stop';

export function classify(err: KeelError): ErrorClass {
  return err.errorClass;
}

/**
 * What to do next. A timeout or a stall moves on at once: a silent provider is likely
 * to stay silent, and retrying it would spend the caller's whole budget waiting.
 * What the caller or Keel caused cannot succeed elsewhere, so it stops.
 */
export function decide(cls: ErrorClass): Decision {
  switch (cls) {
    case 'caller_context_length':
      return 'larger_context';
    case 'provider_rate_limit':
    case 'provider_error':
    case 'provider_unavailable':
    case 'provider_reset':
    case 'provider_stream_broken':
      return 'retry_same';
    case 'provider_timeout':
    case 'provider_credential':
    case 'provider_quota':
    case 'provider_rejected':
    case 'provider_malformed':
      return 'fall_back';
    default:
      return 'stop';
  }
}

/**
 * Attempts that ended without a verdict on the target (the caller left or stalled, a
 * hedge lost, Keel failed to build the request): a half-open probe slot is freed, not judged.
 */
export function isVerdictless(cls: ErrorClass): boolean {
  return cls === 'caller_disconnected' || cls === 'caller_stalled' || familyOf(cls) === 'gateway';
}

/** Failures that say something about the target's health (breaker input, latency, per-target SLIs). */
export function countsAgainstTarget(cls: ErrorClass): boolean {
  return familyOf(cls) === 'provider';
}
