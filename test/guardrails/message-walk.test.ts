import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formats, type FormatId } from '../../gateway/formats/index.js';
import { guardRequest } from '../../gateway/guardrails/index.js';
import { anthropicRequest, jsonish, key, openaiRequest, responsesRequest } from '../property/arbitraries.js';
import { ALL, rules, SECRETS } from './helpers.js';
import { guardRequestBefore } from './message-before.js';

/**
 * guardRequest walks the raw body by Object.keys (issue 18, the stages); the Object.entries walk
 * before it is the oracle: the same request out (redactions in the same places, the same object
 * when nothing changed), the same findings, the same block, for bodies with secrets and PII
 * sprinkled into their strings and hostile extra fields.
 */
const SHAPES = ['sk-proj-AbCdEf0123456789xyzT3BlbkFJ', 'ana@example.com', '4111 1111 1111 1111', ...Object.values(SECRETS)];
const RULESETS = [
  rules({ block: { detect: ['secrets'], action: 'block' } }),
  rules({ r: { detect: [...ALL], action: 'redact' }, l: { detect: [...ALL], action: 'log' } }),
  rules({ p: { patterns: ['ticket-[0-9]{4}'], action: 'redact' }, s: { detect: ['secrets', 'email'], action: 'redact' } }),
];

/** Every string of `v` with a finding appended where `pick` says so. */
function sprinkle(v: unknown, pick: () => string | undefined): unknown {
  if (typeof v === 'string') {
    const s = pick();
    return s === undefined ? v : `${v} ${s}`;
  }
  if (Array.isArray(v)) return v.map((x) => sprinkle(x, pick));
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: sprinkle((v as Record<string, unknown>)[k], pick), enumerable: true, writable: true, configurable: true });
  return out;
}

const bodies: fc.Arbitrary<[FormatId, unknown]> = fc.oneof(
  fc.tuple(fc.constant<FormatId>('openai-chat'), openaiRequest),
  fc.tuple(fc.constant<FormatId>('anthropic-messages'), anthropicRequest),
  fc.tuple(fc.constant<FormatId>('openai-responses'), responsesRequest),
);

describe('guardRequest walks the raw body as before', () => {
  it('same request, findings and block as the Object.entries walk, for any body with findings sprinkled and extra fields', () => {
    fc.assert(
      fc.property(bodies, fc.dictionary(key, jsonish, { maxKeys: 3 }), fc.array(fc.nat({ max: SHAPES.length * 2 }), { minLength: 1, maxLength: 40 }), fc.nat({ max: RULESETS.length - 1 }), ([format, body], extra, picks, r) => {
        let i = 0;
        const pick = () => SHAPES[picks[i++ % picks.length] ?? 0];
        const raw = sprinkle({ ...(body as Record<string, unknown>), ...extra }, pick);
        let req;
        try {
          req = formats[format].parseRequest(JSON.parse(JSON.stringify(raw)));
        } catch {
          return;
        }
        const set = RULESETS[r] ?? [];
        const now = guardRequest(set, req);
        const before = guardRequestBefore(set, req);
        // node's deep equality: prototypes by Object.getPrototypeOf, so a body's own `constructor` field is data, not a type.
        expect(isDeepStrictEqual(now, before)).toBe(true);
        expect(JSON.stringify(now.req.original.body)).toBe(JSON.stringify(before.req.original.body));
        expect(now.req === req).toBe(before.req === req);
        expect(now.req.original.body === req.original.body).toBe(before.req.original.body === req.original.body);
      }),
      { numRuns: 1_000 },
    );
  });
});
