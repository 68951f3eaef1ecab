import { Worker } from 'node:worker_threads';
import type { AuditRecord } from '../../config/audit.js';
import type { ProbeRecord } from '../probes/types.js';
import type { CompletedRequest } from '../pipeline/record.js';
import { spansOf, type FromSpanThread, type SpanThreadData, type ToSpanThread } from './span-messages.js';
import type { SpanShutdown } from './flush.js';
import type { SpanSink } from './span-pipeline.js';

/** Past a bounded shutdown's deadline, how long the thread gets to answer before its spans count as lost and it is terminated. */
const ANSWER_MS = 250;

/** Records handed over per message: one structured clone per batch, not per request. */
const BATCH = 64;
/** Longest a record waits for its batch; spans are not latency-sensitive. */
const BATCH_MS = 10;

/**
 * The gateway's side of the span thread (span-worker.ts). Records are posted in batches;
 * spans handed over and not yet processed are bounded by the span queue size, and records
 * beyond it, or any once the thread has died, are dropped and counted: telemetry never
 * blocks or fails a request.
 */
export class SpanThread implements SpanSink {
  readonly #worker: Worker;
  readonly #maxSpans: number;
  readonly #onDrop: (destination: string, spans: number) => void;
  #batch: CompletedRequest[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Spans handed over (batched or posted) and not yet processed by the thread. */
  #pendingSpans = 0;
  /** Spans the thread said it had not exported yet, at its last hand-over: lost too if it never answers a shutdown. */
  #held = 0;
  #dead = false;
  #nextId = 0;
  readonly #waiting = new Map<number, (dropped: number) => void>();

  constructor(data: SpanThreadData, env: NodeJS.ProcessEnv, onDrop: (destination: string, spans: number) => void) {
    this.#maxSpans = data.maxQueueSpans;
    this.#onDrop = onDrop;
    this.#worker = new Worker(workerUrl(), { workerData: data, env });
    this.#worker.unref();
    this.#worker.on('message', (m: FromSpanThread) => this.#onMessage(m));
    this.#worker.on('error', () => this.#died());
    this.#worker.on('exit', () => this.#died());
  }

  record(rec: CompletedRequest): void {
    const spans = spansOf([rec]);
    if (this.#dead || this.#pendingSpans + spans > this.#maxSpans) {
      this.#onDrop('record', spans);
      return;
    }
    this.#pendingSpans += spans;
    this.#batch.push(rec);
    if (this.#batch.length >= BATCH) this.#post();
    else this.#timer ??= setTimeout(() => this.#post(), BATCH_MS).unref();
  }

  /** Audit events are few (a reload makes a handful): posted at once, not batched, under the same span bound. */
  audit(records: AuditRecord[]): void {
    this.#few({ type: 'audit', records });
  }

  /** Probes are few too (one per target and interval at most): the same path as audit events. */
  probes(records: ProbeRecord[]): void {
    this.#few({ type: 'probes', records });
  }

  #few(m: Extract<ToSpanThread, { type: 'audit' | 'probes' }>): void {
    const n = m.records.length;
    if (n === 0) return;
    if (this.#dead || this.#pendingSpans + n > this.#maxSpans) {
      this.#onDrop('record', n);
      return;
    }
    this.#pendingSpans += n;
    this.#send(m);
  }

  held(): number {
    return this.#pendingSpans + this.#held;
  }

  /** Every record so far exported (or dropped and counted). */
  async flush(): Promise<void> {
    await this.#call('flush', undefined);
  }

  /**
   * With a bound, the thread gives up at its deadline and says what it dropped; a thread that
   * does not answer by then (stuck in a serialisation) loses what it was handed, counted here.
   */
  async shutdown(bound?: SpanShutdown): Promise<number> {
    const answer = this.#call('shutdown', bound);
    const dropped = bound === undefined ? await answer : await Promise.race([answer, new Promise<undefined>((r) => setTimeout(() => r(undefined), bound.timeoutMs + ANSWER_MS).unref())]);
    // No answer: what was never handed over and what the thread still held are both lost.
    const lost = dropped ?? this.#pendingSpans + this.#held;
    if (dropped === undefined && lost > 0) this.#onDrop('record', lost);
    // Counted here or by the thread: the exit that terminate() causes must not count them again.
    this.#pendingSpans = 0;
    await this.#worker.terminate();
    return lost;
  }

  #post(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    const records = this.#batch;
    this.#batch = [];
    this.#send({ type: 'records', records });
  }

  #call(type: 'flush' | 'shutdown', bound: SpanShutdown | undefined): Promise<number> {
    this.#post();
    if (this.#dead) return Promise.resolve(0);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#send(type === 'flush' ? { type, id } : { type, id, bound });
    });
  }

  #send(m: ToSpanThread): void {
    try {
      this.#worker.postMessage(m);
    } catch {
      // A record that cannot be cloned (it never should) is dropped, not thrown at a request.
      if (m.type === 'records') this.#dropPosted(m.records);
      else if (m.type === 'audit' || m.type === 'probes') {
        this.#pendingSpans -= m.records.length;
        this.#onDrop('record', m.records.length);
      }
    }
  }

  #onMessage(m: FromSpanThread): void {
    if (m.type === 'done') {
      this.#pendingSpans -= m.spans;
      this.#held = m.held;
    }
    else if (m.type === 'dropped') this.#onDrop(m.destination, m.spans);
    else {
      this.#waiting.get(m.id)?.(m.dropped);
      this.#waiting.delete(m.id);
    }
  }

  #dropPosted(records: CompletedRequest[]): void {
    const spans = spansOf(records);
    this.#pendingSpans -= spans;
    this.#onDrop('record', spans);
  }

  #died(): void {
    if (this.#dead) return;
    this.#dead = true;
    // Posted but unprocessed, and still batched: none of them will reach a destination.
    if (this.#pendingSpans > 0) this.#onDrop('record', this.#pendingSpans);
    this.#pendingSpans = 0;
    this.#batch = [];
    for (const resolve of this.#waiting.values()) resolve(0);
    this.#waiting.clear();
  }
}

/**
 * The thread runs compiled JavaScript: span-worker.js beside this file in dist/, or, when
 * this module runs from its TypeScript source (the tests), the dist/ build of the same tree
 * (the test setup builds it first).
 */
function workerUrl(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../dist/gateway/telemetry/span-worker.js', here) : new URL('./span-worker.js', here);
}
