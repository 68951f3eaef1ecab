import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../gateway/cache/canonical-json.js';
import { residue } from '../../gateway/cache/residue.js';
import type { ChatRequest } from '../../gateway/formats/canonical.js';
import { anthropicRequest, jsonish, key, mutations, openaiRequest, responsesRequest } from '../property/arbitraries.js';
import { residueBefore } from './residue-before.js';

type Format = ChatRequest['original']['format'];

/** residue reads only the caller's body and its format. */
const asRequest = (format: Format, body: unknown): ChatRequest => ({ original: { format, body } }) as unknown as ChatRequest;

/** Unmodelled fields added at the top, on a message and on a part, where the walk looks. */
function withExtras(body: unknown, extras: Record<string, unknown>): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body;
  const b = { ...(body as Record<string, unknown>), ...extras };
  for (const list of ['messages', 'input'] as const) {
    const ms = b[list];
    if (!Array.isArray(ms) || ms.length === 0) continue;
    const [first, ...rest] = ms as unknown[];
    const content = typeof first === 'object' && first !== null ? (first as Record<string, unknown>).content : undefined;
    const parts = Array.isArray(content) && content.length > 0 ? [{ ...(content[0] as Record<string, unknown>), ...extras }, ...(content.slice(1) as unknown[])] : content;
    b[list] = [{ ...(first as Record<string, unknown>), ...extras, ...(parts === undefined ? {} : { content: parts }) }, ...rest];
  }
  return b;
}

const extras = fc.dictionary(key, jsonish, { maxKeys: 3 });
const bodies: fc.Arbitrary<[Format, unknown]> = fc.oneof(
  fc.tuple(fc.constant<Format>('openai-chat'), fc.oneof(openaiRequest, mutations(openaiRequest))),
  fc.tuple(fc.constant<Format>('anthropic-messages'), fc.oneof(anthropicRequest, mutations(anthropicRequest))),
  fc.tuple(fc.constant<Format>('openai-responses'), fc.oneof(responsesRequest, mutations(responsesRequest))),
);

describe('residue', () => {
  it('is what the version before it found, for valid, mutated and extended bodies of every format (the previous implementation as oracle)', () => {
    fc.assert(
      fc.property(bodies, extras, fc.boolean(), ([format, body], more, extend) => {
        const req = asRequest(format, extend ? withExtras(body, more) : body);
        const now = residue(req);
        const before = residueBefore(req);
        expect(now).toStrictEqual(before);
        expect(canonicalJson(now)).toBe(canonicalJson(before));
      }),
      { numRuns: 3_000 },
    );
  });
});
