import type { DetectorName } from '../../config/governance-schema.js';
import { ibanLength, ibanValid, luhnValid } from './checksums.js';
import { findAll, firstIn, isAlnum, isDigit, isUpper, trailingRun } from './find.js';
import { phoneEnd } from './phone.js';
import { secretsDetector } from './secrets.js';
import type { Detector, Span } from './types.js';

/**
 * The built-in detectors other than secrets, and custom patterns. Every regex here has a
 * bounded or unambiguous repetition and a lookbehind that lets a match begin only where a run
 * begins, so a scan is linear: no input makes one backtrack catastrophically.
 */

/** The domain, tried at each `@`: labels of up to 63 characters, a TLD of letters, not running on into more label. */
const DOMAIN = /@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])/y;
const localChar = (c: number): boolean => isAlnum(c) || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
const emailChar = (c: number): boolean => localChar(c) || c === 64;

/**
 * Addresses found from their `@` (a plain indexOf, far cheaper than trying a regex at every
 * position): the local part is the whole run of local-part characters before it, 1–64 long,
 * and must begin at or after `from`, as a regex with a lookbehind would have it.
 */
function findEmails(text: string, from: number): Span[] {
  const out: Span[] = [];
  for (let at = text.indexOf('@', from); at !== -1; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && at - start <= 64 && localChar(text.charCodeAt(start - 1))) start--;
    if (start === at || at - start > 64 || start < from || (start > 0 && localChar(text.charCodeAt(start - 1)))) continue;
    DOMAIN.lastIndex = at;
    if (!DOMAIN.test(text)) continue;
    out.push({ start, end: DOMAIN.lastIndex });
    from = DOMAIN.lastIndex;
    at = from - 1;
  }
  return out;
}

const email: Detector = {
  name: 'email',
  find: findEmails,
  // Any trailing word could be the local part of an address still being written.
  tail: (text) => trailingRun(text, emailChar, 64 + 1 + 255 + 1),
};

/* Payment cards: 13–19 digits starting 2–6 (Mastercard 2-series, Amex/Diners/JCB, Visa,
 * Mastercard, Discover/UnionPay: 1, 7, 8, 9 and 0 start no card network, and that keeps
 * millisecond timestamps out), spaces or dashes anywhere between digits, Luhn valid. */
const CARD = /(?<![0-9])[2-6](?:[ -]?[0-9]){12,18}(?![0-9])/g;
const CARD_MAX = 19 + 18 + 1;

/** The longest prefix of the candidate ending at a group boundary that is 13–19 digits and Luhn valid ("4111… 12/25" is a card and an expiry). */
function cardEnd(_text: string, start: number, match: string): number | undefined {
  let digits = '';
  const ends: { end: number; digits: string }[] = [];
  for (let i = 0; i < match.length; i++) {
    const c = match.charCodeAt(i);
    if (isDigit(c)) {
      digits += match[i];
      const next = match.charCodeAt(i + 1);
      if (!isDigit(next)) ends.push({ end: start + i + 1, digits });
    }
  }
  for (let k = ends.length - 1; k >= 0; k--) {
    const e = ends[k];
    if (e !== undefined && e.digits.length >= 13 && e.digits.length <= 19 && luhnValid(e.digits)) return e.end;
  }
  return undefined;
}

const card: Detector = {
  name: 'payment_card',
  find: (text, from) => findAll(CARD, text, from, cardEnd),
  tail: (text) => Math.max(firstIn(text, trailingRun(text, (c) => isDigit(c) || c === 32 || c === 45, CARD_MAX), isDigit), text.length - CARD_MAX),
};

/* IBAN: country, two check digits, BBAN; grouped by spaces or not; upper case (as printed). */
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}/g;
const IBAN_MAX = 34 + 33 + 1;

/** Exactly the country's length in characters, mod-97 valid, and not running on into more letters or digits. */
function ibanEnd(text: string, start: number, match: string): number | undefined {
  const want = ibanLength(match.slice(0, 2));
  if (want === undefined) return undefined;
  let compact = '';
  let i = 0;
  for (; i < match.length && compact.length < want; i++) if (match[i] !== ' ') compact += match[i];
  if (compact.length < want) return undefined;
  const end = start + i;
  if (end < text.length && isAlnum(text.charCodeAt(end))) return undefined;
  return ibanValid(compact) ? end : undefined;
}

const iban: Detector = {
  name: 'iban',
  find: (text, from) => findAll(IBAN, text, from, ibanEnd),
  tail: ibanTail,
};

/** The earliest start in the trailing run that reads as the beginning of an IBAN so far (two letters, two digits, groups): "OK " is not held. */
function ibanTail(text: string): number {
  const run = trailingRun(text, (c) => isUpper(c) || isDigit(c) || c === 32, IBAN_MAX);
  for (let s = run; s < text.length; s++) {
    if (!isUpper(text.charCodeAt(s)) || (s > 0 && isAlnum(text.charCodeAt(s - 1)))) continue;
    let ok = true;
    for (let i = s + 1; i < Math.min(text.length, s + 4) && ok; i++) ok = i === s + 1 ? isUpper(text.charCodeAt(i)) : isDigit(text.charCodeAt(i));
    for (let i = s + 4; i < text.length && ok; i++) ok = !(text.charCodeAt(i) === 32 && text.charCodeAt(i - 1) === 32);
    if (ok) return s;
  }
  return text.length;
}

/* Phone numbers: see phone.ts for the shapes accepted and why. */
// Not after a letter or sign, nor after a digit group and a separator: "8 336 817" is no number from its second group on.
const PHONE = /(?<![A-Za-z0-9_+.()-])(?<![0-9][ .-]{1,2})\+?\(?[0-9]{1,8}\)?(?:[ .-]{0,2}\(?[0-9]{1,8}\)?){0,5}/g;
const PHONE_MAX = 72;
const phoneChar = (c: number): boolean => isDigit(c) || c === 32 || c === 40 || c === 41 || c === 43 || c === 45 || c === 46;

const phone: Detector = {
  name: 'phone',
  find: (text, from) => findAll(PHONE, text, from, phoneEnd),
  tail: (text) => Math.max(firstIn(text, trailingRun(text, phoneChar, PHONE_MAX), (c) => isDigit(c) || c === 40 || c === 43), text.length - PHONE_MAX),
};

const BUILTIN: Readonly<Record<DetectorName, Detector>> = { secrets: secretsDetector, email, phone, payment_card: card, iban };

export function builtinDetector(name: DetectorName): Detector {
  return BUILTIN[name];
}

/**
 * A rule's own regex. Its longest match is unknown, so the stream scanner holds up to its
 * bound behind it; the regex is the operator's, and so is its backtracking behaviour.
 */
export function patternDetector(source: string, flags: '' | 'i'): Detector {
  const re = new RegExp(source, `g${flags}`);
  return { name: 'pattern', find: (text, from) => findAll(re, text, from), tail: () => 0 };
}
