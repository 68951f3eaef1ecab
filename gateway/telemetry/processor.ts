import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { batchLength, EXPORT_BATCH_BYTES, QUEUE_BYTES } from './bounds.js';
import { encodeSpans, type EncodedExporter, type EncodedSpans } from './otlp-encoded.js';

export interface QueueOptions<T = ReadableSpan> {
  /** Spans waiting beyond this are dropped and counted, never buffered without bound. */
  maxQueue: number;
  /** Encoded bytes waiting beyond this are dropped and counted too (default QUEUE_BYTES). */
  maxQueueBytes?: number;
  batchSize: number;
  /** Encoded bytes per export (default EXPORT_BATCH_BYTES): a batch is cut at whichever bound comes first. */
  maxBatchBytes?: number;
  flushMs: number;
  /** Share of traces sent (by trace id, so a trace is whole or absent); 1 for the collector. */
  sample: number;
  onDrop: (count: number) => void;
  /**
   * A group's encoding (default encodeSpans, for SDK spans); span-pipeline.ts queues spans
   * already encoded one by one and shares each group's encoding between destinations (group-encoder.ts).
   */
  encode?: (spans: T[]) => EncodedSpans;
}

/** Keeps a trace or not from its id alone, so every span of it gets the same answer. */
export function sampledTrace(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return Number.parseInt(traceId.slice(-8), 16) / 0x1_0000_0000 < ratio;
}

/**
 * Spans per encoded group: a span thread ends 64 requests' spans in one run, and a group must
 * stay under the collector's body cap even when each span carries captured content at its
 * bounds (bounds.ts), since a group cannot be split once encoded.
 */
export const SEAL_SPANS = 32;

/**
 * Longest a span waits to be encoded: short against the ~70 ms between scavenges here, so the
 * span objects still die young, and one timer and one encode per ~15-25 requests rather than
 * per request. Measured in process (40-attribute spans), the SDK's serializer costs 26.95 µs a
 * span in one 512-span batch, 20.14 in groups of 32 and 15.09 in pairs; end to end, sealing per
 * request and per 10 ms were not told apart beyond the bench's noise (bench/reading.md).
 * (Keel's own encoder, otlp/, later replaced the SDK's: ~2.8 µs a span in groups of 32.)
 */
const SEAL_MS = 10;

/**
 * A batching span queue that never blocks a request and counts what it drops
 * (the SDK's BatchSpanProcessor drops silently). One export in flight at a time;
 * the exporter's own retries handle transient collector failures.
 *
 * Spans (SDK spans, or spans already encoded: span-pipeline.ts) are encoded in groups of up
 * to SEAL_SPANS, at most SEAL_MS after they end, and queued as bytes (otlp-encoded.ts says why).
 */
export class SpanQueue<T> {
  readonly #exporter: EncodedExporter;
  readonly #o: QueueOptions<T>;
  readonly #maxBatchBytes: number;
  readonly #maxQueueBytes: number;
  readonly #encode: (spans: T[]) => EncodedSpans;
  /** Ended and not yet encoded: sealed SEAL_MS after the first, or at SEAL_SPANS. */
  #pending: T[] = [];
  #sealTimer: NodeJS.Timeout | undefined;
  /** Encoded groups waiting for an export. */
  #queue: EncodedSpans[] = [];
  #queuedSpans = 0;
  #queuedBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /** Spans in the export on the wire now. */
  #exporting = 0;
  #closed = false;
  /** Given up at a shutdown deadline: what was left is counted once, by abandon(). */
  #abandoned = false;
  #failed = 0;

  constructor(exporter: EncodedExporter, o: QueueOptions<T>, encode: (spans: T[]) => EncodedSpans) {
    this.#exporter = exporter;
    this.#o = o;
    this.#maxBatchBytes = o.maxBatchBytes ?? EXPORT_BATCH_BYTES;
    this.#maxQueueBytes = o.maxQueueBytes ?? QUEUE_BYTES;
    this.#encode = o.encode ?? encode;
  }

  /** One ended span of trace `traceId`, kept or not by this destination's sampling. */
  add(span: T, traceId: string): void {
    if (this.#closed || !sampledTrace(traceId, this.#o.sample)) return;
    const n = this.#pending.push(span);
    if (n >= SEAL_SPANS) this.#seal();
    else if (n === 1) this.#sealTimer = setTimeout(() => this.#seal(), SEAL_MS).unref();
  }

  /** Encodes what ended since the last seal and queues it, or drops and counts it past a bound. */
  #seal(): void {
    if (this.#sealTimer !== undefined) clearTimeout(this.#sealTimer);
    this.#sealTimer = undefined;
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    if (this.#closed) return;
    for (let i = 0; i < pending.length; i += SEAL_SPANS) this.#enqueue(pending.slice(i, i + SEAL_SPANS));
    if (this.#fullBatch()) void this.#drain(false);
    else this.#arm();
  }

  #enqueue(spans: T[]): void {
    let group: EncodedSpans;
    try {
      group = this.#encode(spans);
    } catch {
      this.#o.onDrop(spans.length);
      return;
    }
    if (this.#queuedSpans + group.spans > this.#o.maxQueue || this.#queuedBytes + group.bytes.length > this.#maxQueueBytes) {
      this.#o.onDrop(group.spans);
      return;
    }
    this.#queue.push(group);
    this.#queuedSpans += group.spans;
    this.#queuedBytes += group.bytes.length;
  }

  /** A whole batch is waiting, by count or by bytes. */
  #fullBatch(): boolean {
    return this.#queuedSpans >= this.#o.batchSize || this.#queuedBytes >= this.#maxBatchBytes;
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#queue.length === 0) return;
    this.#timer = setTimeout(() => void this.#drain(false), this.#o.flushMs);
    this.#timer.unref();
  }

  /** `all`: empty the queue (flush, shutdown); otherwise one batch, then only full ones. */
  #drain(all: boolean): Promise<void> {
    if (all) this.#seal();
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
      const spans = batch.reduce((n, g) => n + g.spans, 0);
      this.#exporting = spans;
      const ok = await new Promise<boolean>((resolve) => this.#exporter.export(batch, (r) => resolve(r.code === ExportResultCode.SUCCESS)));
      this.#exporting = 0;
      if (this.#abandoned) return;
      if (!ok) {
        this.#failed += spans;
        this.#o.onDrop(spans);
      }
    }
  }

  /** The next export: bounded in spans and in bytes, so no export can exceed the collector's body cap. */
  #takeBatch(): EncodedSpans[] {
    const taken = this.#queue.splice(0, batchLength(this.#queue, this.#o.batchSize, this.#maxBatchBytes));
    for (const g of taken) {
      this.#queuedSpans -= g.spans;
      this.#queuedBytes -= g.bytes.length;
    }
    return taken;
  }

  async flush(): Promise<void> {
    this.#seal();
    await this.#inFlight;
    await this.#drain(true);
  }

  async shutdown(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#exporter.shutdown();
  }

  /** Spans this destination still holds: queued, or in the export on the wire. */
  get held(): number {
    return this.#pending.length + this.#queuedSpans + this.#exporting;
  }

  /**
   * Spans whose export failed so far (counted by onDrop already). A bounded shutdown reports
   * them too: an exporter that gives up on its own timeout just before the deadline lost its
   * batch as surely as one the deadline cut.
   */
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
    if (this.#sealTimer !== undefined) clearTimeout(this.#sealTimer);
    this.#sealTimer = undefined;
    const lost = this.#pending.length + this.#queuedSpans + this.#exporting;
    this.#pending = [];
    this.#queue = [];
    this.#queuedSpans = 0;
    this.#queuedBytes = 0;
    if (lost > 0) this.#o.onDrop(lost);
    return lost;
  }
}

/** The queue as an SDK span processor, for spans of an SDK tracer (tests, benches, any tracer of one's own). */
export class QueueingSpanProcessor implements SpanProcessor {
  readonly #queue: SpanQueue<ReadableSpan>;

  constructor(exporter: EncodedExporter, o: QueueOptions) {
    this.#queue = new SpanQueue(exporter, o, encodeSpans);
  }

  onStart(_span: Span, _ctx: Context): void {}

  onEnd(span: ReadableSpan): void {
    this.#queue.add(span, span.spanContext().traceId);
  }

  forceFlush(): Promise<void> {
    return this.#queue.flush();
  }

  shutdown(): Promise<void> {
    return this.#queue.shutdown();
  }

  get held(): number {
    return this.#queue.held;
  }

  get failed(): number {
    return this.#queue.failed;
  }

  abandon(): number {
    return this.#queue.abandon();
  }
}
