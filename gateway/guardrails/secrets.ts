import { findAll, isAlnum, runContinuation, trailingRun } from './find.js';
import type { Continuation, Detector, Span } from './types.js';
import { extend } from '../objects.js';

/**
 * Credentials by shape: provider API keys, cloud and SaaS tokens, JWTs, PEM private keys.
 * The token shapes are shared with gateway/redact.ts (log and error redaction), so there is
 * one definition of what a key looks like. Each shape starts with a literal prefix after a
 * non-token character and has no nested quantifier, so a scan is linear in the text.
 */

/** Characters a token can contain; a shape must not start right after one of them. */
const TOKEN = '[A-Za-z0-9_-]';
const BEFORE = `(?<!${TOKEN})`;

interface TokenShape {
  source: string;
  /** Literal prefixes the shape starts with: what the stream scanner must hold while it could still grow into one. */
  prefixes: readonly string[];
  /** Characters the match goes on with, for shapes without a fixed length. */
  more?: (code: number) => boolean;
  /** A character that joins two runs of `more` characters (a JWT's segments). */
  joiner?: number;
}

const tokenChar = (c: number): boolean => isAlnum(c) || c === 95 || c === 45;
const alnum = isAlnum;

const SHAPES: readonly TokenShape[] = [
  // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-api03-…): 20 is below every real key and above words like sk-learn.
  { source: `${BEFORE}sk-${TOKEN}{20,}`, prefixes: ['sk-'], more: tokenChar },
  // AWS access key ids (long-term AKIA, temporary ASIA): exactly 20 characters.
  { source: `${BEFORE}(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])`, prefixes: ['AKIA', 'ASIA'] },
  { source: `${BEFORE}gh[pousr]_[A-Za-z0-9]{30,}`, prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], more: alnum },
  { source: `${BEFORE}github_pat_[A-Za-z0-9_]{22,}`, prefixes: ['github_pat_'], more: (c) => alnum(c) || c === 95 },
  { source: `${BEFORE}xox[abprs]-[A-Za-z0-9-]{10,}`, prefixes: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'], more: (c) => alnum(c) || c === 45 },
  { source: `${BEFORE}AIza${TOKEN}{35}(?!${TOKEN})`, prefixes: ['AIza'] },
  { source: `${BEFORE}[sr]k_live_[A-Za-z0-9]{16,}`, prefixes: ['sk_live_', 'rk_live_'], more: alnum },
  // A JWT (or any JWS): two base64url JSON segments ('{"' encodes as eyJ), the signature optional so a
  // token longer than the stream hold is caught by its first two segments.
  {
    source: `${BEFORE}eyJ${TOKEN}{8,}\\.eyJ${TOKEN}{8,}(?:\\.${TOKEN}+)*`,
    prefixes: ['eyJ'],
    more: tokenChar,
    joiner: 46,
  },
];

/** The token shapes as regex sources, for gateway/redact.ts. */
export const KEY_SHAPE_SOURCES: readonly string[] = SHAPES.map((s) => s.source);

const compiled = SHAPES.map((s) => extend(s, { re: new RegExp(s.source, 'g') }));
const PREFIXES = SHAPES.flatMap((s) => s.prefixes);

function findTokens(text: string, from: number): Span[] {
  const out: Span[] = [];
  for (const shape of compiled) {
    for (const span of findAll(shape.re, text, from)) {
      const more = shape.more;
      if (more !== undefined && span.end === text.length) span.resume = () => runContinuation(more, shape.joiner);
      out.push(span);
    }
  }
  return out;
}

/**
 * Where a token that is still being written could begin: a shape starts at the beginning of
 * the trailing run of token characters (or after a dot in it: a dot is not a token character),
 * and only where what follows is, or is on the way to, one of the literal prefixes.
 */
function tokenTail(text: string): number {
  const run = trailingRun(text, (c) => tokenChar(c) || c === 46, Number.MAX_SAFE_INTEGER);
  for (let s = run; s < text.length; s++) {
    if (s > run && text.charCodeAt(s - 1) !== 46) continue;
    const rest = text.slice(s, s + 16);
    const restIsAll = s + 16 >= text.length;
    if (PREFIXES.some((p) => rest.startsWith(p) || (restIsAll && p.startsWith(rest)))) return s;
  }
  return text.length;
}

/* PEM private keys. The body is matched by character class, not by regex, so a header
 * without a footer costs one pass over the text that follows it, never a search per header. */

const HEADER = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/g;
const FOOTER = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/y;
const FOOTER_MAX = 72;
/** Longest body a block may have; a longer one ends there (and the rest is scanned as text). */
export const PEM_BODY_MAX = 16_384;
/** Base64, whitespace, PEM and PGP armour headers ("Proc-Type: 4,ENCRYPTED", "Version: …"), JSON-escaped newlines. */
const pemBody = (c: number): boolean =>
  isAlnum(c) || c === 43 || c === 47 || c === 61 || c === 32 || c === 9 || c === 10 || c === 13 || c === 58 || c === 44 || c === 46 || c === 45 || c === 92;

/** End of the first footer in text[from, to), or undefined. */
function footerEnd(text: string, from: number, to: number): number | undefined {
  for (let i = text.indexOf('-----END ', from); i !== -1 && i < to; i = text.indexOf('-----END ', i + 1)) {
    FOOTER.lastIndex = i;
    if (FOOTER.test(text) && FOOTER.lastIndex <= to) return FOOTER.lastIndex;
  }
  return undefined;
}

function pemContinuation(budget: number, carry: string): Continuation {
  return {
    step(text) {
      let used = 0;
      while (used < text.length && used < budget && pemBody(text.charCodeAt(used))) used++;
      const seg = carry + text.slice(0, used);
      const end = footerEnd(seg, 0, seg.length);
      if (end !== undefined) return { used: end - carry.length, done: true };
      budget -= used;
      carry = seg.slice(-FOOTER_MAX);
      return { used, done: used < text.length || budget === 0 };
    },
  };
}

/** A block from its header through its footer; without a footer, through the run of body characters after the header. */
function findPem(text: string, from: number): Span[] {
  const out: Span[] = [];
  HEADER.lastIndex = from;
  for (let m = HEADER.exec(text); m !== null; m = HEADER.exec(text)) {
    const bodyStart = m.index + m[0].length;
    const limit = Math.min(text.length, bodyStart + PEM_BODY_MAX);
    let run = bodyStart;
    while (run < limit && pemBody(text.charCodeAt(run))) run++;
    const end = footerEnd(text, bodyStart, run);
    const span: Span = { start: m.index, end: end ?? run };
    if (end === undefined && run === text.length && run - bodyStart < PEM_BODY_MAX) {
      const budget = PEM_BODY_MAX - (run - bodyStart);
      span.resume = () => pemContinuation(budget, text.slice(Math.max(bodyStart, run - FOOTER_MAX), run));
    }
    out.push(span);
    HEADER.lastIndex = span.end;
  }
  return out;
}

const BEGIN = '-----BEGIN ';

/** An open block (no footer yet) holds from its header; otherwise a header still being written. */
function pemTail(text: string): number {
  const open = findPem(text, Math.max(0, text.length - PEM_BODY_MAX - 80)).find((s) => s.resume !== undefined);
  if (open !== undefined) return open.start;
  for (let i = text.indexOf(BEGIN, Math.max(0, text.length - 80)); i !== -1; i = text.indexOf(BEGIN, i + 1)) {
    if (/^[A-Z0-9 -]*$/.test(text.slice(i + BEGIN.length))) return i;
  }
  for (let k = Math.min(BEGIN.length, text.length); k > 0; k--) if (text.endsWith(BEGIN.slice(0, k))) return text.length - k;
  return text.length;
}

export const secretsDetector: Detector = {
  name: 'secrets',
  find: (text, from) => [...findTokens(text, from), ...findPem(text, from)],
  tail: (text) => Math.min(tokenTail(text), pemTail(text)),
};
