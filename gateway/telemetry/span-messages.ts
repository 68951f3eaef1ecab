import type { AuditRecord } from '../../config/audit.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ProbeRecord } from '../probes/types.js';
import type { SpanDestination } from './destinations.js';
import type { SpanShutdown } from './flush.js';

/** What the span thread is started with (structured-cloned into it). */
export interface SpanThreadData {
  serviceName: string;
  destinations: SpanDestination[];
  maxQueueSpans: number;
  flushMs: number;
  exportTimeoutMs: number | undefined;
}

export type ToSpanThread = { type: 'records'; records: CompletedRequest[] } | { type: 'audit'; records: AuditRecord[] } | { type: 'probes'; records: ProbeRecord[] } | { type: 'flush'; id: number } | { type: 'shutdown'; id: number; bound: SpanShutdown | undefined };

/** `flushed.dropped`: spans a bounded shutdown gave up on. `done.held`: spans the thread has not exported yet. */
export type FromSpanThread = { type: 'done'; spans: number; held: number } | { type: 'dropped'; destination: string; spans: number } | { type: 'flushed'; id: number; dropped: number };

/** A SERVER span per request and a CLIENT span per attempt. */
export function spansOf(records: readonly CompletedRequest[]): number {
  return records.reduce((n, r) => n + 1 + r.attempts.length, 0);
}
