import { createParser } from 'eventsource-parser';
import type { SseEvent } from '../formats/canonical.js';

/** An SSE event (or line) longer than the reader's limit: the stream is malformed, not merely slow. */
export class EventTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`an SSE event exceeded ${limit} bytes`);
    this.name = 'EventTooLarge';
  }
}

/**
 * Server-Sent Events from a byte stream, in batches: one batch per network
 * chunk, so the caller can time arrivals and flush once per chunk.
 * Parsing follows the WHATWG SSE rules (eventsource-parser). The parser buffers an
 * event until its blank line, without bound, so the bytes since the last event
 * boundary are counted here: past `maxEventBytes` the read fails with EventTooLarge.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>, maxEventBytes = Number.POSITIVE_INFINITY): AsyncGenerator<SseEvent[]> {
  let batch: SseEvent[] = [];
  const parser = createParser({
    onEvent(ev) {
      batch.push(ev.event === undefined ? { data: ev.data } : { event: ev.event, data: ev.data });
    },
  });
  const decoder = new TextDecoder();
  const meter = new EventMeter(maxEventBytes);
  for await (const chunk of body) {
    const text = decoder.decode(chunk, { stream: true });
    // Checked before the parser sees the text: it never holds more than the limit plus one chunk.
    if (!meter.add(text, chunk.length)) throw new EventTooLarge(maxEventBytes);
    parser.feed(text);
    if (batch.length > 0) {
      const out = batch;
      batch = [];
      yield out;
    }
  }
}

/** A blank line: two line ends, each CR, LF or CRLF (the longest alternatives first). */
const BOUNDARY = /\r\n\r\n|\n\r\n|\r\n\n|\n\n|\r\r|\n\r/g;

/**
 * Bytes since the last event boundary, so that no event, nor a line that never ends,
 * passes `limit`. O(1) on the usual token chunk (whole events, ending the chunk); the
 * scan of every event in a chunk runs only for a chunk larger than the limit.
 */
export class EventMeter {
  #since = 0;
  /** The previous chunk's last three characters, for a boundary split across chunks. */
  #tail = '';

  constructor(readonly limit: number) {}

  /** One decoded chunk and its size in bytes; false when an event in it (or still open) is too long. */
  add(text: string, bytes: number): boolean {
    if (this.#since === 0 && bytes <= this.limit && text.endsWith('\n\n')) {
      this.#tail = '\n\n';
      return true;
    }
    // No line end in it: no boundary can end here (the common first half of a split event).
    if (!text.includes('\n') && !text.includes('\r')) {
      this.#tail = (this.#tail + text).slice(-3);
      this.#since += bytes;
      return this.#since <= this.limit;
    }
    const offset = this.#tail.length;
    const seam = this.#tail + text;
    this.#tail = seam.slice(-3);
    const ends = boundaryEnds(seam, offset);
    const first = ends[0];
    const last = ends[ends.length - 1];
    if (first === undefined || last === undefined) {
      this.#since += bytes;
      return this.#since <= this.limit;
    }
    // The event open before this chunk ends at its first boundary; then whole events; then a new open one.
    const open = this.#since + Buffer.byteLength(seam.slice(offset, first));
    this.#since = Buffer.byteLength(seam.slice(last));
    if (open > this.limit || this.#since > this.limit) return false;
    if (bytes <= this.limit) return true;
    for (let i = 1; i < ends.length; i++) if (Buffer.byteLength(seam.slice(ends[i - 1], ends[i])) > this.limit) return false;
    return true;
  }
}

/** Where each blank line that ends after `from` ends, in order. */
function boundaryEnds(text: string, from: number): number[] {
  const out: number[] = [];
  BOUNDARY.lastIndex = Math.max(0, from - 3);
  for (let m = BOUNDARY.exec(text); m !== null; m = BOUNDARY.exec(text)) {
    const end = m.index + m[0].length;
    if (end > from) out.push(end);
  }
  return out;
}

/** Serialises one event back to SSE text (multi-line data split per the spec). */
export function writeSse(ev: SseEvent): string {
  const data = ev.data.includes('\n') ? ev.data.split('\n').join('\ndata: ') : ev.data;
  return ev.event === undefined ? `data: ${data}\n\n` : `event: ${ev.event}\ndata: ${data}\n\n`;
}
