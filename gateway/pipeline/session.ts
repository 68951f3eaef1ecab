import type { StreamEvent } from '../formats/canonical.js';
import type { StreamEncoder } from '../formats/types.js';
import type { ClientSink } from '../relay/sink.js';
import type { StreamFilter } from '../stages/types.js';
import { extend } from '../objects.js';

/**
 * What one attempt's stream has told the caller so far: the encoder that wrote
 * it (its state is the caller's view of the answer) and the text, which a
 * continuation sends back as an assistant prefill.
 */
export interface AnswerSoFar {
  encoder: StreamEncoder;
  /** Feed the encoder in pass-through mode too, because a continuation may follow. */
  shadow: boolean;
  /** Text of choice 0 as sent. */
  text: string;
  /** Tool calls or other choices were sent: a prefill cannot express those. */
  beyondText: boolean;
  /** Whitespace the prefill had to drop (APIs reject a prefill ending in it), owed by the continuation. */
  owedSpace: string;
  /** Events of a continuation, adjusted to read as the rest of this answer. */
  continuation: (events: StreamEvent[]) => StreamEvent[];
  /** This answer's stage filter: a continuation shares it (one answer), a hedge or fallback gets its own. */
  filter: StreamFilter | undefined;
}

/** What a streaming request's attempts share: the caller's connection and, once one answers, its answer. */
export interface StreamSession {
  sink: ClientSink;
  shadow: boolean;
  /** Makes what stages do to a stream on its way out (guardrails), one per answer; undefined: nothing. */
  filter: (() => StreamFilter | undefined) | undefined;
  /** The answer the caller is receiving (set when an attempt claims the stream). */
  answer: AnswerSoFar | undefined;
}

export function newAnswer(encoder: StreamEncoder, shadow: boolean, filter?: StreamFilter): AnswerSoFar {
  const answer: AnswerSoFar = {
    encoder,
    shadow,
    filter,
    text: '',
    beyondText: false,
    owedSpace: '',
    continuation: (events) => {
      const out: StreamEvent[] = [];
      for (const ev of events) {
        // The caller saw the start already; a second one would begin a new message.
        if (ev.type === 'start') continue;
        if (ev.type === 'text' && ev.text !== '' && answer.owedSpace !== '') {
          const text = ev.text.startsWith(answer.owedSpace) ? ev.text.slice(answer.owedSpace.length) : ev.text;
          answer.owedSpace = '';
          out.push(extend(ev, { text }));
          continue;
        }
        out.push(ev);
      }
      return out;
    },
  };
  return answer;
}

export function observeAnswer(answer: AnswerSoFar, events: readonly StreamEvent[]): void {
  for (const ev of events) {
    if (ev.type === 'text') {
      if (ev.choice === 0) answer.text += ev.text;
      else answer.beyondText = true;
    } else if (ev.type === 'tool_call' || ev.type === 'tool_args') {
      answer.beyondText = true;
    }
  }
}

/**
 * The prefill for a continuation of this answer, or undefined when it cannot be
 * continued that way. Trailing whitespace is dropped (Anthropic rejects a prefill
 * ending in it) and owed: the continuation's leading copy of it is not sent again.
 */
export function prefillOf(answer: AnswerSoFar): string | undefined {
  if (answer.beyondText || answer.text.trim() === '') return undefined;
  const prefill = answer.text.trimEnd();
  answer.owedSpace = answer.text.slice(prefill.length);
  return prefill;
}

/**
 * Regeneration (continuation: regenerate): another target answers the whole request again, and
 * only what follows the text the caller already has is relayed, if and only if the regenerated
 * text starts with exactly that text. Returns the events adjuster; `diverged` is called once
 * when the regenerated answer departs from the sent text (other text, a tool call, another
 * choice, or an end before the sent text is matched), and everything after it is dropped.
 */
export function regeneration(sent: string, diverged: () => void): (events: StreamEvent[]) => StreamEvent[] {
  let matched = 0;
  let off = false;
  return (events) => {
    const out: StreamEvent[] = [];
    for (const ev of events) {
      if (off) return [];
      // The caller saw the start already; a second one would begin a new message.
      if (ev.type === 'start') continue;
      if (matched === sent.length) {
        out.push(ev);
        continue;
      }
      if (ev.type !== 'text' || ev.choice !== 0) {
        off = true;
        diverged();
        return [];
      }
      const head = ev.text.slice(0, sent.length - matched);
      if (!sent.startsWith(head, matched)) {
        off = true;
        diverged();
        return [];
      }
      matched += head.length;
      const rest = ev.text.slice(head.length);
      if (rest !== '') out.push(extend(ev, { text: rest }));
    }
    return out;
  };
}
