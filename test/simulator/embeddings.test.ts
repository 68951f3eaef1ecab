import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { embedding, embeddingWords } from '../../simulator/answer.js';

const cosine = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);
const norm = (v: number[]): number => Math.sqrt(cosine(v, v));

// 1,536: the size of the embeddings the semantic cache is built for (OpenAI's text-embedding-3-small).
const DIMS = 1536;

describe('simulator embeddings: a hashed bag of words', () => {
  const paraphrases: [string, string][] = [
    ['What is the capital of France?', "what's the capital of france"],
    ['How do I reset my password?', 'how reset password'],
    ['Translate hello world into German', 'translate into German: Hello, World!'],
    ['List the planets of the solar system', 'list solar system planet'],
    ['Summarise this article about climate change.', 'SUMMARISE an article about Climate Change'],
  ];
  it.each(paraphrases)('paraphrase: %j ~ %j (≥ 0.95)', (a, b) => {
    expect(cosine(embedding(a, DIMS), embedding(b, DIMS))).toBeGreaterThanOrEqual(0.95);
  });

  const unrelated: [string, string][] = [
    ['What is the capital of France?', 'How do I reset my password?'],
    ['Translate hello world into German', 'List the planets of the solar system'],
    ['Write a haiku about autumn leaves', 'Explain quicksort in Python'],
  ];
  it.each(unrelated)('unrelated: %j vs %j (< 0.5)', (a, b) => {
    expect(cosine(embedding(a, DIMS), embedding(b, DIMS))).toBeLessThan(0.5);
  });

  // Bag of words sees two of three words shared (what, capital): 2/3, and a cache
  // threshold must sit above that — a real embedding model is no kinder to this pair.
  it('one key word changed stays well below a paraphrase (France vs Spain: 2/3)', () => {
    const s = cosine(embedding('What is the capital of France?', DIMS), embedding('What is the capital of Spain?', DIMS));
    expect(s).toBeCloseTo(2 / 3, 6);
  });

  it("splits what's into what + s and drops the s; question words stay", () => {
    expect(embeddingWords("What's the capital of France?")).toEqual(['what', 'capital', 'france']);
    expect(embeddingWords('Capitals, glass, bus, is')).toEqual(['capital', 'glass', 'bus']);
  });

  it('is deterministic, unit norm, and has the dimensions asked for', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), fc.integer({ min: 1, max: 2048 }), (text, dims) => {
        const v = embedding(text, dims);
        expect(v).toHaveLength(dims);
        expect(norm(v)).toBeCloseTo(1, 9);
        expect(embedding(text, dims)).toEqual(v);
      }),
    );
  });

  it('input with no words left gets one fixed unit vector', () => {
    const empty = embedding('', 64);
    expect(embedding('?! the of', 64)).toEqual(empty);
    expect(norm(empty)).toBeCloseTo(1, 12);
    expect(embedding('', 0)).toEqual([]);
  });
});
