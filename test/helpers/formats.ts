import { KeelError } from '../../gateway/errors.js';
import type { SseEvent } from '../../gateway/formats/canonical.js';

/** SSE text → events (Keel's encoders escape newlines inside JSON, so a block split suffices). */
export function parseSse(sseText: string): SseEvent[] {
  return sseText
    .split('\n\n')
    .filter((b) => b.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return event === undefined ? { data } : { event, data };
    });
}

/** The KeelError `fn` throws; anything else (a TypeError, no throw at all) fails the test. */
export function rejection(fn: () => unknown): KeelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeelError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}
