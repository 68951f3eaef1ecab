import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { anthropicRequest, mutations, openaiRequest } from './arbitraries.js';

/**
 * The real in-process gateway (fastify, routing, translators, the simulator upstream) against
 * hostile bodies: every answer is below 500 (a caller's input is never Keel's failure, nor a
 * provider's: DESIGN.md §6, §8), every error is a JSON body, and the server keeps answering.
 */
const RUNS = 300;
const MODELS = ['gpt-sim', 'claude-sim', 'embed', 'ghost'];

const withModel = (body: fc.Arbitrary<Record<string, unknown>>) => fc.tuple(body, fc.constantFrom(...MODELS)).map(([b, model]) => ({ ...b, model }));

/** A request body as bytes on the wire: mostly a valid or mutated request of the path's own format. */
const bodyOf = (valid: fc.Arbitrary<Record<string, unknown>>) =>
  fc.oneof({ weight: 3, arbitrary: mutations(withModel(valid)).map((v) => JSON.stringify(v) ?? '') }, { weight: 2, arbitrary: withModel(valid).map((v) => JSON.stringify(v)) });

/** Anything at all, to any endpoint: any JSON, other-format bodies, bytes that are not JSON. */
const anyBody = fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 200 }), bodyOf(openaiRequest), bodyOf(anthropicRequest));

const request = fc.record({
  target: fc.oneof(
    { weight: 3, arbitrary: fc.record({ path: fc.constant('/v1/chat/completions'), body: bodyOf(openaiRequest) }) },
    { weight: 3, arbitrary: fc.record({ path: fc.constant('/v1/messages'), body: bodyOf(anthropicRequest) }) },
    { weight: 2, arbitrary: fc.record({ path: fc.constantFrom('/v1/chat/completions', '/v1/messages', '/v1/embeddings'), body: anyBody }) },
  ),
  contentType: fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded'),
});

describe('the gateway over HTTP, against hostile bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it(`${RUNS} random requests: every status < 500, every error a JSON body, the server still up`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ target: { path, body }, contentType }) => {
        const res = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': contentType, 'anthropic-version': '2023-06-01' }, body });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, text.slice(0, 300)).toBeLessThan(500);
        if (res.status >= 400) expect(() => JSON.parse(text) as unknown).not.toThrow();
      }),
      // FC_SEED replays a run fast-check reported.
      { numRuns: RUNS, ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }) },
    );
    // The runs reached the translators and providers, not only the validators.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(RUNS / 10);
    const ok = await fetch(`${h.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'still there?' }] }) });
    expect(ok.status).toBe(200);
  });
});
