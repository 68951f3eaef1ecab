import type { Continuation, Span } from './types.js';

/**
 * Building blocks the detectors share: a validated regex scan and the trailing-run measure
 * the stream scanner's hold is made of.
 */

/**
 * Decides whether a regex candidate at `start` (`match` is its text) is a real match: the
 * match's end (a candidate may be trimmed to a shorter valid prefix), or undefined.
 */
export type Validate = (text: string, start: number, match: string) => number | undefined;

/**
 * Every match of `re` (a global regex) at or after `from`. A rejected candidate is retried one
 * character further on, as the regex engine itself would, so whether a match starts at a
 * position depends only on the text around it: the stream scanner, resuming anywhere, finds
 * what a scan of the whole text finds.
 */
export function findAll(re: RegExp, text: string, from: number, validate?: Validate): Span[] {
  const spans: Span[] = [];
  re.lastIndex = from;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const start = m.index;
    if (m[0].length === 0) {
      // A custom pattern that can match nothing: step over it, it has no text to redact.
      re.lastIndex = start + 1;
      continue;
    }
    const end = validate === undefined ? start + m[0].length : validate(text, start, m[0]);
    if (end === undefined || end <= start) {
      re.lastIndex = start + 1;
      continue;
    }
    spans.push({ start, end });
    re.lastIndex = end;
  }
  return spans;
}

/** Start of the run of characters at the end of `text` that all pass `inRun`, looking back at most `max`. */
export function trailingRun(text: string, inRun: (code: number) => boolean, max: number): number {
  const stop = Math.max(0, text.length - max);
  let i = text.length;
  while (i > stop && inRun(text.charCodeAt(i - 1))) i--;
  return i;
}

/** The first index in [from, text.length) whose character passes `starts`; text.length if none. */
export function firstIn(text: string, from: number, starts: (code: number) => boolean): number {
  for (let i = from; i < text.length; i++) if (starts(text.charCodeAt(i))) return i;
  return text.length;
}

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
export const isUpper = (c: number): boolean => c >= 65 && c <= 90;
export const isLower = (c: number): boolean => c >= 97 && c <= 122;
export const isAlnum = (c: number): boolean => isDigit(c) || isUpper(c) || isLower(c);

/**
 * A continuation that goes on while characters pass `inMatch` (a token longer than the hold),
 * and over a `joiner` character only when one that passes follows it (a JWT's dots).
 */
export function runContinuation(inMatch: (code: number) => boolean, joiner?: number): Continuation {
  return {
    step(text) {
      let used = 0;
      for (;;) {
        while (used < text.length && inMatch(text.charCodeAt(used))) used++;
        if (joiner === undefined || used >= text.length || text.charCodeAt(used) !== joiner) break;
        if (used + 1 === text.length) return { used, done: false };
        if (!inMatch(text.charCodeAt(used + 1))) break;
        used++;
      }
      return { used, done: used < text.length };
    },
  };
}
