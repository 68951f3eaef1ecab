/**
 * Guardrails (issue 15 §4): named rules that find secrets, personal data and custom patterns
 * in requests and answers, and block, redact or only count them. Pure code, no I/O: the
 * request pipeline's stages call these with the rules a route and key select.
 *
 * - compileGuardrails(config.guardrails) once per config snapshot, then select(names, 'in' | 'out') per request;
 * - scanText for one string; guardRequest / guardResponse for a whole request (its raw
 *   original.body too, which same-format pass-through forwards) or answer;
 * - StreamGuard for a streamed answer, matches split across deltas included.
 *
 * Findings name the rule and detector and count matches; a matched value is never returned.
 * A blocked request or answer still comes back redacted, but the caller must not send it.
 *
 * Choices and limits, on purpose:
 * - Detectors favour precision on ordinary prose: cards must pass Luhn and start 2–6, IBANs
 *   their country's length and mod-97 (upper case only), phones one of the shapes in phone.ts
 *   (bare digit runs and national numbers without a trunk 0 are missed), `sk-` keys need 20
 *   characters after the prefix.
 * - StreamGuard holds a channel's text from where a match could still be in progress, at most
 *   holdChars (256) behind. Within that bound its output equals scanText of the whole text for
 *   any chunking. A match longer than the bound is caught by its start, released as one marker,
 *   and the rest swallowed as it arrives: a PEM block through its footer (body at most
 *   PEM_BODY_MAX characters), a token through its last token character; a match of another
 *   detector that starts inside such a swallowed tail is not looked for. Custom patterns, whose
 *   longest match is unknown, are always held the full bound and can be cut at it, and their
 *   anchors (`^`, `$`) see the held window, not the whole answer. holdChars below ~40 lets
 *   fixed-length shapes (AWS key ids, IBANs, cards) be cut and missed.
 * - In a raw body, strings nested deeper than BODY_DEPTH_MAX, data: URLs and base64 `data`
 *   are not scanned; the canonical request (which the provider sees when formats differ) is.
 * - Custom patterns are the operator's regexes, backtracking included; the built-in ones are linear.
 */
export { compileGuardrails, compileRule, type CompiledGuardrails } from './compile.js';
export { scanText } from './scan.js';
export { guardRequest, guardResponse, BODY_DEPTH_MAX } from './message.js';
export { StreamGuard, type StreamGuardOptions } from './stream.js';
export { KEY_SHAPE_SOURCES, PEM_BODY_MAX } from './secrets.js';
export { luhnValid, ibanValid } from './checksums.js';
export type { Action, Blocked, CompiledRule, Detector, Direction, Finding, ScanResult } from './types.js';
