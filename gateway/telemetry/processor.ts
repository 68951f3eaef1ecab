import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { batchLength, estimateSpanBytes, EXPORT_BATCH_BYTES, QUEUE_BYTES } from './bounds.js';

export interface QueueOptions {
  /** Spans waiting beyond this are dropped and counted, never buffered without bound. */
  maxQueue: number;
  /** Estimated bytes waiting beyond this are dropped and counted too (default QUEUE_BYTES). */
  maxQueueBytes?: number;
  batchSize: number;
  /** Estimated bytes per export (default EXPORT_BATCH_BYTES): a batch is cut at whichever bound comes first. */
  maxBatchBytes?: number;
  flushMs: number;
  /** Share of traces sent (by trace id, so a trace is whole or absent); 1 for the collector. */
  sample: number;
  onDrop: (count: number) => void;
}

/** Keeps a trace or not from its id alone, so every span of it gets the same answer. */
export function sampledTrace(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return Number.parseInt(traceId.slice(-8), 16) / 0x1_0000_0000 < ratio;
}

/**
 * A batching span processor that never blocks a request and counts what it drops
 * (the SDK's BatchSpanProcessor drops silently). One export in flight at a time;
 * the exporter's own retries handle transient collector failures.
 */
export class QueueingSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #o: QueueOptions;
  readonly #maxBatchBytes: number;
  readonly #maxQueueBytes: number;
  /** Each span with its estimated size, computed once as it ends (bounds.ts). */
  #queue: { span: ReadableSpan; bytes: number }[] = [];
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /** Spans in the export on the wire now. */
  #exporting = 0;
  #closed = false;
  /** Given up at a shutdown deadline: what was left is counted once, by abandon(). */
  #abandoned = false;
  #failed = 0;

  constructor(exporter: SpanExporter, o: QueueOptions) {
    this.#exporter = exporter;
    this.#o = o;
    this.#maxBatchBytes = o.maxBatchBytes ?? EXPORT_BATCH_BYTES;
    this.#maxQueueBytes = o.maxQueueBytes ?? QUEUE_BYTES;
  }

  onStart(_span: Span, _ctx: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.#closed || !sampledTrace(span.spanContext().traceId, this.#o.sample)) return;
    const bytes = estimateSpanBytes(span);
    if (this.#queue.length >= this.#o.maxQueue || this.#queuedBytes + bytes > this.#maxQueueBytes) {
      this.#o.onDrop(1);
      return;
    }
    this.#queue.push({ span, bytes });
    this.#queuedBytes += bytes;
    if (this.#fullBatch()) void this.#drain(false);
    else this.#arm();
  }

  /** A whole batch is waiting, by count or by estimated bytes. */
  #fullBatch(): boolean {
    return this.#queue.length >= this.#o.batchSize || this.#queuedBytes >= this.#maxBatchBytes;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => void this.#drain(false), this.#o.flushMs);
    this.#timer.unref();
  }

  /** `all`: empty the queue (flush, shutdown); otherwise one batch, then only full ones. */
  #drain(all: boolean): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#inFlight === undefined) {
      const run = this.#exportAll(all);
      this.#inFlight = run;
      // Cleared only once the run is over (never from inside it, which could finish synchronously).
      void run.finally(() => {
        if (this.#inFlight === run) this.#inFlight = undefined;
        this.#arm();
      });
    }
    return this.#inFlight;
  }

  async #exportAll(all: boolean): Promise<void> {
    await Promise.resolve();
    if (this.#abandoned) return;
    // Spans that arrive during an export wait for the next timer or a full batch: looping
    // until the queue is empty turned a steady trickle into one tiny export per round trip.
    let first = true;
    while (this.#queue.length > 0 && (first || all || this.#fullBatch())) {
      first = false;
      const batch = this.#takeBatch();
      this.#exporting = batch.length;
      const ok = await new Promise<boolean>((resolve) => this.#exporter.export(batch, (r) => resolve(r.code === ExportResultCode.SUCCESS)));
      this.#exporting = 0;
      if (this.#abandoned) return;
      if (!ok) {
        this.#failed += batch.length;
        this.#o.onDrop(batch.length);
      }
    }
  }

  /** The next export: bounded in spans and in estimated bytes, so no export can exceed the collector's body cap. */
  #takeBatch(): ReadableSpan[] {
    const taken = this.#queue.splice(0, batchLength(this.#queue, this.#o.batchSize, this.#maxBatchBytes));
    for (const e of taken) this.#queuedBytes -= e.bytes;
    return taken.map((e) => e.span);
  }

  async forceFlush(): Promise<void> {
    await this.#inFlight;
    await this.#drain(true);
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    this.#closed = true;
    await this.#exporter.shutdown();
  }

  /**
   * Spans whose export failed so far (counted by onDrop already). A bounded shutdown reports
   * them too: an exporter that gives up on its own timeout just before the deadline lost its
   * batch as surely as one the deadline cut.
   */
  /** Spans this destination still holds: queued, or in the export on the wire. */
  get held(): number {
    return this.#queue.length + this.#exporting;
  }

  get failed(): number {
    return this.#failed;
  }

  /**
   * Gives up (a shutdown deadline passed, or the destination is unreachable): the spans queued
   * and those in the export on the wire are dropped and counted, once; returns how many.
   */
  abandon(): number {
    if (this.#abandoned) return 0;
    this.#abandoned = true;
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const lost = this.#queue.length + this.#exporting;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (lost > 0) this.#o.onDrop(lost);
    return lost;
  }
}
