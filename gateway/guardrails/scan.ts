import type { Blocked, CompiledRule, Detector, Finding, ScanResult, Span } from './types.js';
import { extend } from '../objects.js';

/**
 * Scanning text against an ordered rule list: all matches of all rules, then one decision.
 * Precedence: a block rule that matched blocks, whatever else matched; redact rules' matches
 * are replaced; log rules only count. Overlapping matches to redact are merged into one
 * replacement labelled by the match that starts first (the longest, on a tie), so a key inside
 * a PEM block or an email inside a JWT leaves no fragment behind.
 */

export interface Hit extends Span {
  rule: number;
  detector: string;
}

/** Every match of every rule at or after `from`; a detector shared by several rules runs once. */
export function collect(rules: readonly CompiledRule[], text: string, from: number): Hit[] {
  // A rule's own detectors are distinct (compileRule): only several rules can share one, so one rule needs no memo (the common case, per text scanned).
  const cache = rules.length > 1 ? new Map<Detector, Span[]>() : undefined;
  const hits: Hit[] = [];
  for (let r = 0; r < rules.length; r++) {
    for (const d of (rules[r] as CompiledRule).detectors) {
      let spans = cache?.get(d);
      if (spans === undefined) {
        spans = d.find(text, from);
        cache?.set(d, spans);
      }
      for (const s of spans) hits.push(extend(s, { rule: r, detector: d.name }));
    }
  }
  return hits;
}

export const marker = (detector: string): string => `[REDACTED:${detector}]`;

/** text[from, to) with the redact rules' hits inside it replaced. */
export function redactRange(rules: readonly CompiledRule[], text: string, hits: readonly Hit[], from: number, to: number): string {
  const spans = hits.filter((h) => rules[h.rule]?.action === 'redact' && h.start >= from && h.end <= to).sort((a, b) => a.start - b.start || b.end - a.end);
  if (spans.length === 0) return from === 0 && to === text.length ? text : text.slice(from, to);
  let out = '';
  let at = from;
  for (let i = 0; i < spans.length; ) {
    const first = spans[i];
    if (first === undefined) break;
    let end = first.end;
    for (i++; i < spans.length && (spans[i]?.start ?? Infinity) < end; i++) end = Math.max(end, spans[i]?.end ?? end);
    out += text.slice(at, first.start) + marker(first.detector);
    at = end;
  }
  return out + text.slice(at, to);
}

/** Findings and the block decision, accumulated over every text of one request, answer or stream. */
export class Tally {
  // Made on the first hit: most texts have none, and a Tally is built per request and per answer.
  private counts: Map<string, Finding> | undefined;
  private firstBlock: { order: number; blocked: Blocked } | undefined;

  constructor(private readonly rules: readonly CompiledRule[]) {}

  add(hits: readonly Hit[]): void {
    for (const h of hits) {
      const rule = this.rules[h.rule];
      if (rule === undefined) continue;
      const key = `${h.rule}\u0000${h.detector}`;
      this.counts ??= new Map();
      const f = this.counts.get(key);
      if (f !== undefined) f.count++;
      else this.counts.set(key, { rule: rule.name, detector: h.detector, action: rule.action, count: 1 });
      // The first block rule in rule order decides, so the answer does not depend on where in the text things sit.
      if (rule.action === 'block' && (this.firstBlock === undefined || h.rule < this.firstBlock.order)) {
        this.firstBlock = { order: h.rule, blocked: { rule: rule.name, detector: h.detector } };
      }
    }
  }

  /** Per rule and detector the larger of the two counts: for two views of the same text (a request and its raw body). */
  merge(other: Tally): void {
    for (const [key, f] of other.counts ?? []) {
      this.counts ??= new Map();
      const mine = this.counts.get(key);
      if (mine === undefined) this.counts.set(key, { ...f });
      else mine.count = Math.max(mine.count, f.count);
    }
    if (other.firstBlock !== undefined && (this.firstBlock === undefined || other.firstBlock.order < this.firstBlock.order)) this.firstBlock = other.firstBlock;
  }

  get blocked(): Blocked | undefined {
    return this.firstBlock?.blocked;
  }

  findings(): Finding[] {
    if (this.counts === undefined) return [];
    return [...this.counts.entries()].sort(([a], [b]) => ruleOrder(a) - ruleOrder(b)).map(([, f]) => ({ ...f }));
  }

  /** Scans one whole text: hits counted, the text redacted. */
  scan(text: string): string {
    if (this.rules.length === 0 || text === '') return text;
    const hits = collect(this.rules, text, 0);
    if (hits.length === 0) return text;
    this.add(hits);
    return redactRange(this.rules, text, hits, 0, text.length);
  }
}

const ruleOrder = (key: string): number => Number(key.slice(0, key.indexOf('\u0000')));

export function scanText(rules: readonly CompiledRule[], text: string): ScanResult {
  const tally = new Tally(rules);
  const out = tally.scan(text);
  return { text: out, findings: tally.findings(), blocked: tally.blocked };
}

