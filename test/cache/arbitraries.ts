import fc from 'fast-check';
import type { ChatResponse, Choice, FinishReason, Part, Usage } from '../../gateway/formats/index.js';
import { key, text } from '../property/arbitraries.js';

/** Cached answers in canonical form, with the hostile text (lone surrogates, NUL, emoji) of the shared generators. */

const nonEmpty = text.filter((s) => s !== '');
const finish = fc.constantFrom<FinishReason>('stop', 'length', 'tool_calls', 'content_filter', 'stop_sequence', 'error');
/** Arguments as models write them: a JSON object's text. */
export const argsJson = fc.dictionary(key, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((o) => JSON.stringify(o));

const part = (args: fc.Arbitrary<string>): fc.Arbitrary<Part> =>
  fc.oneof(
    fc.record({ type: fc.constant('text' as const), text }),
    fc.record({ type: fc.constant('tool_call' as const), id: nonEmpty, name: nonEmpty, arguments: args }),
  );

const usage: fc.Arbitrary<Usage> = fc.record(
  { inputTokens: fc.nat(), outputTokens: fc.nat(), cacheReadTokens: fc.nat(), cacheWriteTokens: fc.nat() },
  { requiredKeys: ['inputTokens', 'outputTokens'] },
);

const choiceBody = (args: fc.Arbitrary<string>) =>
  fc.record({ content: fc.array(part(args), { maxLength: 5 }), finishReason: finish, stopSequence: text }, { requiredKeys: ['content', 'finishReason'] });

/**
 * `indices`: 'any' gives sparse, possibly unordered choice indices (what the canonical type
 * allows); 'dense' gives 0..n-1 in order (what providers send).
 */
export function chatResponse(o: { indices: 'any' | 'dense'; args?: fc.Arbitrary<string> } = { indices: 'any' }): fc.Arbitrary<ChatResponse> {
  const args = o.args ?? fc.oneof(argsJson, text);
  const indices = o.indices === 'dense' ? fc.integer({ min: 1, max: 3 }).map((n) => [...Array(n).keys()]) : fc.uniqueArray(fc.nat({ max: 6 }), { minLength: 1, maxLength: 3 });
  const choices = indices.chain((ix) => fc.tuple(...ix.map((index) => choiceBody(args).map((c): Choice => ({ index, ...c })))));
  return fc.record({ id: nonEmpty, model: nonEmpty, created: fc.nat(), choices, usage });
}
