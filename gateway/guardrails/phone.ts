import { isAlnum, isDigit } from './find.js';

/**
 * Which digit groups count as a phone number. Prices, years, dates, versions, card numbers
 * and IDs are also digit groups, so only shapes that are rarely anything else are accepted:
 *
 * - international: a leading `+`, 8–15 digits (E.164), any grouping: `+44 20 7946 0958`, `+14155552671`;
 * - North American: 3-3-4 (optionally after a 1), grouped: `(415) 555-2671`, `415.555.2671`, `1 415 555 2671`;
 * - national with a trunk 0, 9–12 digits in groups of at least 2: `020 7946 0958`, `06 12 34 56 78`, `030 1234567`;
 * - local 3-4 joined by `-` or `.`: `555-2671`.
 *
 * Not flagged, on purpose: bare digit runs (`4155552671` is as likely an order number), groups
 * of three after the first (`1 234 567`, thousands), years and dates (`2024-01-15`). The cost
 * is missing national numbers written without a trunk 0 or a separator.
 */

interface Group {
  digits: string;
  /** Offset in the text just past the group (past a `)` that closes it). */
  end: number;
  /** The separator text before the group. */
  sep: string;
  /** Opened by a `(`: only an area code is written so (first group), except after a `+`: `+44 (0)20`. */
  paren: boolean;
}

function groups(start: number, match: string): Group[] {
  const out: Group[] = [];
  let digits = '';
  let sep = '';
  let paren = false;
  for (let i = 0; i < match.length; i++) {
    const c = match.charCodeAt(i);
    if (isDigit(c)) {
      digits += match[i];
      continue;
    }
    if (digits !== '') {
      out.push({ digits, end: start + i + (c === 41 ? 1 : 0), sep, paren });
      digits = '';
      sep = '';
      paren = false;
    }
    if (c === 40) paren = true;
    else if (c !== 41 && c !== 43) sep += match[i];
  }
  if (digits !== '') out.push({ digits, end: start + match.length, sep, paren });
  return out;
}

function isPhone(gs: readonly Group[], plus: boolean): boolean {
  const lens = gs.map((g) => g.digits.length);
  const total = lens.reduce((a, b) => a + b, 0);
  if (plus) return total >= 8 && total <= 15;
  if (gs.some((g, i) => i > 0 && g.paren)) return false;
  const shape = lens.join('-');
  if (shape === '3-3-4' || (shape === '1-3-3-4' && gs[0]?.digits === '1')) return true;
  const first = gs[0]?.digits ?? '';
  if (gs.length >= 2 && first.startsWith('0') && first.length <= 5 && lens.every((n) => n >= 2) && total >= 9 && total <= 12) return true;
  const sep = gs[1]?.sep ?? '';
  return shape === '3-4' && (sep === '-' || sep === '.');
}

/** The longest run of whole groups from the start that is a phone number, not running on into a word. */
export function phoneEnd(text: string, start: number, match: string): number | undefined {
  // Most candidates are a year or a price: every accepted shape has at least 7 digits.
  let digits = 0;
  for (let i = 0; i < match.length && digits < 7; i++) if (isDigit(match.charCodeAt(i))) digits++;
  if (digits < 7) return undefined;
  const gs = groups(start, match);
  const plus = match.startsWith('+');
  for (let k = gs.length; k >= 1; k--) {
    const prefix = gs.slice(0, k);
    const end = prefix[k - 1]?.end;
    if (end === undefined || !isPhone(prefix, plus)) continue;
    const next = text.charCodeAt(end);
    if (end < text.length && (isAlnum(next) || next === 95)) continue;
    return end;
  }
  return undefined;
}
