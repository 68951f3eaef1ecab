import type { EncodedSpans } from './otlp-encoded.js';

/**
 * One encoding per group for every destination that seals the same group. Each destination
 * has its own queue (its own bounds and sampling), and every ended span is handed to each in
 * turn, so destinations with the same sample decision seal the same spans in the same order,
 * one right after the other: at SEAL_SPANS inside the same hand-over, or from seal timers
 * armed by the same span. The last few groups are remembered by span identity; a group that
 * differs in any span (another sample ratio, a span that ended between two timers) is simply
 * encoded again, so the memo can cost a miss, never a wrong body.
 *
 * Remembering keeps at most `destinations` groups' spans alive until newer groups replace
 * them: a few dozen spans, against the 512 per destination the byte queues avoid.
 */
export function groupEncoder<T>(destinations: number, encode: (spans: T[]) => EncodedSpans): (spans: T[]) => EncodedSpans {
  if (destinations <= 1) return encode;
  const recent: { spans: T[]; encoded: EncodedSpans }[] = [];
  return (spans) => {
    for (const r of recent) if (sameSpans(r.spans, spans)) return r.encoded;
    const encoded = encode(spans);
    recent.push({ spans, encoded });
    if (recent.length > destinations) recent.shift();
    return encoded;
  };
}

function sameSpans<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
