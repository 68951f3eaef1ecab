import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { formats, type FormatId } from '../../gateway/formats/index.js';
import { anthropicRequest, anyValue, callerError, checkCanonical, jsonish, mutations, onlyKeelErrors, openaiRequest, responsesRequest } from './arbitraries.js';

/**
 * Ingress parsers against hostile bodies: whatever a caller sends, parseRequest returns a
 * canonical request or throws a KeelError with a 4xx caller_* class (DESIGN.md §6, §8),
 * never a TypeError that would surface as a 500.
 */
const valid: Record<FormatId, fc.Arbitrary<Record<string, unknown>>> = { 'openai-chat': openaiRequest, 'anthropic-messages': anthropicRequest, 'openai-responses': responsesRequest };
const RUNS = 2_000;

/** As the gateway gets it: through JSON text (undefined and NaN gone, lone surrogates kept). */
const viaJson = (v: unknown): unknown => {
  const text = JSON.stringify(v);
  return text === undefined ? undefined : JSON.parse(text);
};

describe.each(Object.keys(valid) as FormatId[])('%s parseRequest', (id) => {
  const format = formats[id];
  const parse = (body: unknown) => {
    const out = onlyKeelErrors(() => format.parseRequest(body), callerError);
    if (!(out instanceof KeelError)) checkCanonical(out);
  };

  it('accepts every valid-shaped request', () => {
    fc.assert(
      fc.property(valid[id], (body) => {
        const req = format.parseRequest(viaJson(body));
        checkCanonical(req);
        expect(req.model).toBe(body.model);
        expect(req.messages.length + (req.system === undefined ? 0 : 1)).toBeGreaterThan(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('any value at all: a canonical request or a 4xx caller error', () => {
    fc.assert(fc.property(anyValue, (body) => parse(body)), { numRuns: RUNS });
  });

  it('a JSON object with the right top-level keys and hostile values: a 4xx at most', () => {
    const shaped = fc.record({ model: jsonish, messages: fc.oneof(jsonish, fc.array(jsonish, { maxLength: 3 })), input: fc.oneof(jsonish, fc.array(jsonish, { maxLength: 3 })), max_tokens: jsonish, stream: jsonish, tools: jsonish, system: jsonish, instructions: jsonish, text: jsonish }, { requiredKeys: [] });
    fc.assert(fc.property(shaped, (body) => parse(viaJson(body))), { numRuns: RUNS });
  });

  it('a valid request with fields dropped, retyped, inflated or buried 50 deep: a 4xx at most', () => {
    fc.assert(fc.property(mutations(valid[id]), (body) => parse(body)), { numRuns: RUNS });
  });

  it('the same mutations after a JSON round trip (what the HTTP layer hands over)', () => {
    fc.assert(fc.property(mutations(valid[id]), (body) => parse(viaJson(body))), { numRuns: RUNS });
  });
});

describe('rendering errors', () => {
  it('any KeelError message and param renders in both formats as JSON', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: undefined }), (message, param) => {
        const err = new KeelError('KEEL_INVALID_REQUEST', message, { param });
        for (const f of Object.values(formats)) expect(JSON.parse(JSON.stringify(f.renderError(err)))).toBeTypeOf('object');
      }),
      { numRuns: 500 },
    );
  });

  it('parseUpstreamError reads any body without throwing', () => {
    fc.assert(
      fc.property(anyValue, (body) => {
        for (const f of Object.values(formats)) expect(f.parseUpstreamError(body)).toBeTypeOf('object');
      }),
      { numRuns: 1_000 },
    );
  });
});
