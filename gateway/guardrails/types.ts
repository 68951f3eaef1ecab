/**
 * Shared shapes of the guardrails engine. A matched value never appears in any of them:
 * a finding says which rule and detector matched and how often, nothing more, so a finding
 * can go on a span or a log line without becoming the leak it reports.
 */

export type Action = 'block' | 'redact' | 'log';
export type Direction = 'in' | 'out';

/** A match as offsets into the scanned text (end exclusive). */
export interface Span {
  start: number;
  end: number;
  /**
   * Set only on a match that runs to the very end of the scanned text and could go on (a PEM
   * block, a long token): the stream scanner uses it to keep swallowing the rest of the match
   * after it had to release the start of it (StreamGuard's hold bound).
   */
  resume?: () => Continuation;
}

/** The rest of a match that started in text already released, fed chunk by chunk. */
export interface Continuation {
  /**
   * How many leading characters of `text` still belong to the match; `done` once it has ended.
   * Not done with characters left over: those cannot be judged yet (a JWT's trailing `.`) and
   * come back at the front of the next text.
   */
  step(text: string): { used: number; done: boolean };
}

/** One way of finding something in text. Implementations are pure and linear in the text. */
export interface Detector {
  /** The detector's name: a DETECTORS entry, or `pattern` for a rule's custom regex. */
  readonly name: string;
  /** Non-overlapping matches that start at or after `from`, left to right (text before `from` is context for lookbehinds). */
  find(text: string, from: number): Span[];
  /**
   * Where text that could still become (part of) a match once more text arrives begins:
   * text.length when nothing needs holding. No match attempt starting before it reads past the end.
   */
  tail(text: string): number;
}

export interface CompiledRule {
  readonly name: string;
  readonly action: Action;
  readonly directions: readonly Direction[];
  readonly detectors: readonly Detector[];
}

export interface Finding {
  rule: string;
  detector: string;
  action: Action;
  count: number;
}

export interface Blocked {
  rule: string;
  detector: string;
}

export interface ScanResult {
  /** The text with every match of a redact rule replaced by `[REDACTED:<detector>]`. */
  text: string;
  findings: Finding[];
  /** The first block rule (in rule order) that matched; the caller refuses the request or stops the answer. */
  blocked: Blocked | undefined;
}
