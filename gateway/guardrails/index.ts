/**
 * Guardrails (issue 15 §4): named rules that find secrets, personal data and custom patterns
 * in requests and answers, and block, redact or only count them. Pure code, no I/O: the
 * request pipeline's stages call these with the rules a route and key select.
 *
 * - compileGuardrails(config.guardrails) once per config snapshot, then select(names, 'in' | 'out') per request;
 * - scanText for one string; guardRequest / guardResponse for a whole request (its raw body too) or answer;
 * - StreamGuard for a streamed answer, matches split across deltas included.
 *
 * Findings name the rule and detector and count matches; a matched value is never returned.
 */
export { compileGuardrails, compileRule, type CompiledGuardrails } from './compile.js';
export { scanText } from './scan.js';
export { guardRequest, guardResponse, BODY_DEPTH_MAX } from './message.js';
export { StreamGuard, type StreamGuardOptions } from './stream.js';
export { KEY_SHAPE_SOURCES, PEM_BODY_MAX } from './secrets.js';
export { luhnValid, ibanValid } from './checksums.js';
export type { Action, Blocked, CompiledRule, Detector, Direction, Finding, ScanResult } from './types.js';
