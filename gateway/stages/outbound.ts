import type { Outbound } from '../pipeline/context.js';
import type { StreamEvent } from '../formats/canonical.js';
import type { StageAfter, StreamFilter } from './types.js';

/**
 * What the stages do to an answer on its way out, innermost stage first (the onion's way back:
 * posts run in reverse order, so do answer filters). Undefined when no stage touches answers,
 * so the attempt loop keeps its pass-through fast path.
 */
export function outboundOf(afters: readonly StageAfter[]): Outbound | undefined {
  const inward = afters.filter((a) => a.answer !== undefined || a.stream !== undefined).reverse();
  if (inward.length === 0) return undefined;
  return {
    answer: (res) => inward.reduce((r, a) => (a.answer === undefined ? r : a.answer(r)), res),
    stream: () => chain(inward.flatMap((a) => a.stream?.() ?? [])),
  };
}

function chain(filters: readonly StreamFilter[]): StreamFilter | undefined {
  if (filters.length === 0) return undefined;
  if (filters.length === 1) return filters[0];
  return {
    push: (events) => {
      let out = events;
      for (const f of filters) {
        const r = f.push(out);
        if (r.blocked !== undefined) return r;
        out = r.events;
      }
      return { events: out };
    },
    end: () => {
      let out: StreamEvent[] = [];
      for (const f of filters) {
        const r = f.push(out);
        if (r.blocked !== undefined) return r;
        const tail = f.end();
        if (tail.blocked !== undefined) return { events: r.events, blocked: tail.blocked };
        out = [...r.events, ...tail.events];
      }
      return { events: out };
    },
  };
}
