import type { StreamEvent } from '../formats/canonical.js';
import { collect, redactRange, Tally, type Hit } from './scan.js';
import type { Blocked, CompiledRule, Continuation, Finding } from './types.js';

/**
 * Guardrails over a streamed answer. Text deltas (and tool-call argument deltas) are scanned
 * per choice as one text, so a match split across deltas is still caught before any of it is
 * released. A channel's text is held only from where a match could still be in progress
 * (each detector says where: the trailing word for an email, trailing digit groups for a card)
 * and never more than `holdChars` behind what arrived.
 *
 * At the hold bound, text is released anyway: a match that has already begun is redacted
 * whole (its marker released) and a continuation swallows the rest of it as it arrives: a
 * PEM block through its footer, a long JWT through its last token character. A custom
 * pattern, whose longest match is unknown, is held the full bound and may be cut at it.
 */

export interface StreamGuardOptions {
  /** Longest a channel's text may be held back, in characters (default 256). */
  holdChars?: number;
}

/** Characters of released text kept for lookbehinds (a key must not start mid-word). */
const CONTEXT = 64;

interface Channel {
  /** Arrived, not yet released. */
  pending: string;
  /** The last released characters, as they arrived (before redaction). */
  context: string;
  /** The rest of a redacted match released at the hold bound. */
  cont: Continuation | undefined;
  /** Text the continuation could not judge yet, given again with the next. */
  contRest: string;
  emit: (text: string) => StreamEvent;
}

export class StreamGuard {
  private readonly tally: Tally;
  private readonly hold: number;
  private readonly channels = new Map<string, Channel>();
  private stopped: Blocked | undefined;

  constructor(
    private readonly rules: readonly CompiledRule[],
    opts: StreamGuardOptions = {},
  ) {
    this.tally = new Tally(rules);
    this.hold = Math.max(0, Math.floor(opts.holdChars ?? 256));
  }

  push(events: readonly StreamEvent[]): { events: StreamEvent[]; blocked?: Blocked } {
    const out: StreamEvent[] = [];
    for (const ev of events) {
      if (this.stopped !== undefined) break;
      this.route(ev, out);
    }
    return this.stopped === undefined ? { events: out } : { events: out, blocked: this.stopped };
  }

  /** The stream ended (or the caller gave up on it): everything held is released. */
  end(): { events: StreamEvent[]; findings: Finding[]; blocked?: Blocked } {
    const out: StreamEvent[] = [];
    if (this.stopped === undefined) this.flush(() => true, out);
    const findings = this.tally.findings();
    return this.stopped === undefined ? { events: out, findings } : { events: out, findings, blocked: this.stopped };
  }

  private route(ev: StreamEvent, out: StreamEvent[]): void {
    if (this.rules.length === 0) {
      out.push(ev);
      return;
    }
    switch (ev.type) {
      case 'text':
        this.feed(this.channel(`t:${ev.choice}`, (text) => ({ type: 'text', choice: ev.choice, text })), ev.text, out);
        return;
      case 'tool_args':
        this.feed(this.channel(`a:${ev.choice}:${ev.index}`, (delta) => ({ type: 'tool_args', choice: ev.choice, index: ev.index, delta })), ev.delta, out);
        return;
      case 'tool_call':
      case 'finish':
        // What the choice said so far goes first, so text and tool calls keep their order.
        this.flush((key) => key === `t:${ev.choice}` || key.startsWith(`a:${ev.choice}:`), out);
        break;
      case 'usage':
      case 'error':
      case 'end':
        this.flush(() => true, out);
        break;
      case 'start':
        break;
    }
    if (this.stopped === undefined) out.push(ev);
  }

  private channel(key: string, emit: (text: string) => StreamEvent): Channel {
    let ch = this.channels.get(key);
    if (ch === undefined) {
      ch = { pending: '', context: '', cont: undefined, contRest: '', emit };
      this.channels.set(key, ch);
    }
    return ch;
  }

  private feed(ch: Channel, text: string, out: StreamEvent[]): void {
    let rest = ch.contRest + text;
    ch.contRest = '';
    if (ch.cont !== undefined) {
      const { used, done } = ch.cont.step(rest);
      ch.context = (ch.context + rest.slice(0, used)).slice(-CONTEXT);
      rest = rest.slice(used);
      if (!done) {
        ch.contRest = rest;
        return;
      }
      ch.cont = undefined;
    }
    ch.pending += rest;
    this.release(ch, false, out);
  }

  private flush(which: (key: string) => boolean, out: StreamEvent[]): void {
    for (const [key, ch] of this.channels) {
      if (this.stopped !== undefined) return;
      if (!which(key)) continue;
      ch.cont = undefined;
      ch.pending = ch.contRest + ch.pending;
      ch.contRest = '';
      this.release(ch, true, out);
    }
  }

  /** Releases what can no longer be part of a match still being written (all of it when `final`). */
  private release(ch: Channel, final: boolean, out: StreamEvent[]): void {
    if (ch.pending === '') return;
    const full = ch.context + ch.pending;
    const from = ch.context.length;
    const hits = collect(this.rules, full, from);
    const cut = final ? full.length : this.cutAt(full, from, hits);
    if (cut <= from) return;
    const released = hits.filter((h) => h.end <= cut);
    this.tally.add(released);
    const blocked = this.tally.blocked;
    if (blocked !== undefined) {
      this.stopped = blocked;
      return;
    }
    const text = redactRange(this.rules, full, released, from, cut);
    if (!final && cut === full.length) {
      // Released at the bound with a match running to the end: swallow the rest of it as it comes.
      const open = released.find((h) => h.end === cut && h.resume !== undefined && this.rules[h.rule]?.action === 'redact');
      ch.cont = open?.resume?.();
    }
    ch.context = full.slice(Math.max(0, cut - CONTEXT), cut);
    ch.pending = full.slice(cut);
    if (text !== '') out.push(ch.emit(text));
  }

  /**
   * The release point: the earliest place a detector needs held, moved up to the hold bound
   * if it is further back, and never inside a match: one that starts within the bound is held
   * whole, one that starts before it is released whole (as its marker, when redacted).
   */
  private cutAt(full: string, from: number, hits: readonly Hit[]): number {
    let cut = full.length;
    for (const rule of this.rules) for (const d of rule.detectors) cut = Math.min(cut, d.tail(full));
    const floor = Math.max(from, full.length - this.hold);
    cut = Math.max(cut, floor);
    // Overlapping matches as one interval, so holding one and releasing another cannot disagree.
    const sorted = [...hits].sort((a, b) => a.start - b.start);
    let start = -1;
    let end = -1;
    for (const h of sorted) {
      if (h.start >= end) {
        if (start < cut && end > cut) break;
        start = h.start;
        end = h.end;
      } else end = Math.max(end, h.end);
    }
    if (start < cut && end > cut) cut = start >= floor ? start : end;
    // Never between the halves of a surrogate pair: each event's text stays well-formed.
    const high = full.charCodeAt(cut - 1);
    if (cut > from && cut < full.length && high >= 0xd800 && high <= 0xdbff) cut--;
    return cut;
  }
}
