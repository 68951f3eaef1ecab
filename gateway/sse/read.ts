import { createParser } from 'eventsource-parser';
import type { SseEvent } from '../formats/canonical.js';

/**
 * Server-Sent Events from a byte stream, in batches: one batch per network
 * chunk, so the caller can time arrivals and flush once per chunk.
 * Parsing follows the WHATWG SSE rules (eventsource-parser).
 */
export async function* readSse(body: AsyncIterable<Uint8Array>): AsyncGenerator<SseEvent[]> {
  let batch: SseEvent[] = [];
  const parser = createParser({
    onEvent(ev) {
      batch.push(ev.event === undefined ? { data: ev.data } : { event: ev.event, data: ev.data });
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (batch.length > 0) {
      const out = batch;
      batch = [];
      yield out;
    }
  }
}

/** Serialises one event back to SSE text (multi-line data split per the spec). */
export function writeSse(ev: SseEvent): string {
  const data = ev.data.includes('\n') ? ev.data.split('\n').join('\ndata: ') : ev.data;
  return ev.event === undefined ? `data: ${data}\n\n` : `event: ${ev.event}\ndata: ${data}\n\n`;
}
