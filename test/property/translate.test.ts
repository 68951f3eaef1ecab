import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import { formats, type ChatRequest, type FormatId, type SseEvent, type StreamEvent } from '../../gateway/formats/index.js';
import { parseSse } from '../helpers/formats.js';
import {
  anthropicEvent,
  anthropicRequest,
  anthropicResponse,
  anyValue,
  callerError,
  checkCanonical,
  mutations,
  onlyKeelErrors,
  openaiChunk,
  openaiRequest,
  openaiResponse,
  providerMalformed,
  responsesEvent,
  responsesRequest,
  responsesResponse,
  text,
} from './arbitraries.js';

/**
 * The translators between the wire formats. Requests: what a caller's format accepts, the
 * other format's builder either expresses or refuses with a 4xx (KEEL_UNSUPPORTED), and what it
 * builds the other side's own parser accepts. Provider output (bodies, stream events): anything
 * a provider sends is read or refused as KEEL_UPSTREAM_BAD_RESPONSE (provider_malformed: the
 * relay skips the chunk or fails over), never a TypeError; and what Keel encodes for a caller
 * always decodes again.
 */
const IDS: FormatId[] = ['openai-chat', 'anthropic-messages', 'openai-responses'];
const others = (id: FormatId): FormatId[] => IDS.filter((x) => x !== id);
const validRequest: Record<FormatId, fc.Arbitrary<Record<string, unknown>>> = { 'openai-chat': openaiRequest, 'anthropic-messages': anthropicRequest, 'openai-responses': responsesRequest };
const validResponse: Record<FormatId, fc.Arbitrary<Record<string, unknown>>> = { 'openai-chat': openaiResponse, 'anthropic-messages': anthropicResponse, 'openai-responses': responsesResponse };
const validEvent: Record<FormatId, fc.Arbitrary<Record<string, unknown>>> = { 'openai-chat': openaiChunk, 'anthropic-messages': anthropicEvent, 'openai-responses': responsesEvent };
const RUNS = 1_500;

/** As the gateway gets a body: through JSON text (undefined and NaN gone, lone surrogates kept). */
const viaJson = <T>(v: T): T => {
  const json = JSON.stringify(v);
  return (json === undefined ? undefined : JSON.parse(json)) as T;
};

/**
 * Every text part of a request in order, then every tool result in order. Apart: a tool result
 * after a user's text in one turn (a conversation no API accepts, but the generator makes)
 * moves ahead of it, as Anthropic wants tool results first in a user turn.
 */
const allText = (r: ChatRequest) => {
  const parts = r.messages.flatMap((m) => m.content);
  const texts = parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
  return [texts, parts.map((p) => (p.type === 'tool_result' ? p.content : '')).join('')];
};

/** Builds for `to`; a refusal must be a caller's 4xx (a request `to` cannot express). */
function build(req: ChatRequest, to: FormatId, forceStreamUsage: boolean): Record<string, unknown> | KeelError {
  return onlyKeelErrors(() => formats[to].buildRequest(req, 'up-model', { forceStreamUsage }), callerError);
}

describe.each(IDS.flatMap((from) => others(from).map((to) => [from, to] as const)))('requests from %s to %s', (from, to) => {
  it(`valid requests round-trip: parse → build ${to} → ${to} parses it`, () => {
    fc.assert(
      fc.property(validRequest[from], fc.boolean(), (body, force) => {
        const req = formats[from].parseRequest(viaJson(body));
        const built = build(req, to, force);
        if (built instanceof KeelError) {
          expect(built.code).toBe('KEEL_UNSUPPORTED');
          return;
        }
        const again = formats[to].parseRequest(viaJson(built));
        checkCanonical(again);
        expect(again.model).toBe('up-model');
        expect(again.stream).toBe(req.stream);
        expect(again.system ?? '').toBe(req.system ?? '');
        // Turns may merge or split (Anthropic alternates roles), but no text is lost or made up.
        expect(allText(again)).toEqual(allText(req));
      }),
      { numRuns: RUNS },
    );
  });
});

describe.each(IDS)('requests from %s', (from) => {
  it(`valid requests pass through to ${from} unchanged but for the model`, () => {
    fc.assert(
      fc.property(validRequest[from], fc.boolean(), (body, force) => {
        const raw = viaJson(body);
        const built = formats[from].buildRequest(formats[from].parseRequest(raw), 'up-model', { forceStreamUsage: force });
        expect({ ...built, model: raw.model, stream_options: raw.stream_options }).toEqual({ ...raw, stream_options: raw.stream_options });
      }),
      { numRuns: 500 },
    );
  });

  it(`mutated requests that still parse build for every format or are refused with a 4xx`, () => {
    fc.assert(
      fc.property(mutations(validRequest[from]), fc.boolean(), (body, force) => {
        const req = onlyKeelErrors(() => formats[from].parseRequest(viaJson(body)), callerError);
        if (req instanceof KeelError) return;
        for (const id of IDS) {
          const built = build(req, id, force);
          if (!(built instanceof KeelError)) expect(() => JSON.stringify(built)).not.toThrow();
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe.each(IDS.flatMap((from) => others(from).map((to) => [from, to] as const)))('responses from a %s provider to a %s caller', (from, to) => {
  it(`valid responses render for every caller, and the ${to} rendering reads back with the same text`, () => {
    fc.assert(
      fc.property(validResponse[from], (body) => {
        const res = formats[from].parseResponse(viaJson(body));
        const rendered = viaJson(formats[to].renderResponse(res));
        viaJson(formats[from].renderResponse(res));
        const back = formats[to].parseResponse(rendered);
        const textOf = (parts: { type: string; text?: string }[] | undefined) => (parts ?? []).map((p) => (p.type === 'text' ? (p.text ?? '') : '')).join('');
        expect(textOf(back.choices[0]?.content)).toBe(textOf(res.choices[0]?.content));
        expect(back.usage.outputTokens).toBe(res.usage.outputTokens);
      }),
      { numRuns: RUNS },
    );
  });
});

/** A Response can say it failed (`status: failed`, an `error`): that is the provider's error, classified, not a malformed body. */
const FAILED = new Set(['KEEL_UPSTREAM_ERROR', 'KEEL_UPSTREAM_RATE_LIMITED', 'KEEL_UPSTREAM_REJECTED']);

describe.each(IDS)('responses from a %s provider', (from) => {
  const refused = (err: KeelError) => providerMalformed(err) || (from === 'openai-responses' && FAILED.has(err.code));
  const parse = (body: unknown) => onlyKeelErrors(() => formats[from].parseResponse(body), refused);

  it('any body, or a mutated valid one: read, or refused as the provider’s malformed answer', () => {
    fc.assert(fc.property(fc.oneof(anyValue, mutations(validResponse[from])), (body) => void parse(body)), { numRuns: RUNS });
  });
});


const sseFrom = (id: FormatId) => (json: Record<string, unknown>): SseEvent => (id === 'openai-chat' ? { data: JSON.stringify(json) } : { event: String(json.type), data: JSON.stringify(json) });

/** One upstream event as a provider might send it: valid, mutated, or not JSON at all. */
const upstreamEvent = (id: FormatId): fc.Arbitrary<SseEvent> =>
  fc.oneof(
    { weight: 6, arbitrary: validEvent[id].map(sseFrom(id)) },
    { weight: 2, arbitrary: mutations(validEvent[id]).map((v) => ({ data: JSON.stringify(v) ?? 'null' })) },
    { weight: 1, arbitrary: fc.oneof(text, fc.constant('[DONE]'), fc.constant(' [DONE] '), fc.json()).map((data) => ({ data })) },
  );

const req = (id: FormatId, streamUsage: boolean): ChatRequest => ({ model: 'route', system: undefined, messages: [], stream: true, streamUsage, original: { format: id, body: {} } });

const textOfEvents = (events: StreamEvent[]) => events.map((e) => (e.type === 'text' && e.choice === 0 ? e.text : '')).join('');

describe.each(IDS)('streams from a %s provider', (from) => {
  it('every event decodes or is refused as malformed; what decodes, both encoders write as SSE that decodes again with the same text', () => {
    fc.assert(
      fc.property(fc.array(upstreamEvent(from), { maxLength: 12 }), fc.boolean(), (events, streamUsage) => {
        const decoder = formats[from].createStreamDecoder();
        const decoded: StreamEvent[] = [];
        for (const ev of events) {
          const out = onlyKeelErrors(() => decoder.decode(ev), providerMalformed);
          if (!(out instanceof KeelError)) decoded.push(...out);
        }
        // As the relay does: up to the upstream's end marker, or an in-band error when there is none.
        const end = decoded.findIndex((e) => e.type === 'end');
        const relayed = end < 0 ? decoded : decoded.slice(0, end + 1);
        for (const to of IDS) {
          const encoder = formats[to].createStreamEncoder(req(to, streamUsage));
          let sse = relayed.map((e) => encoder.encode(e)).join('');
          if (end < 0) sse += encoder.error(new KeelError('KEEL_STREAM_BROKEN', 'the provider stream broke'));
          const reread = formats[to].createStreamDecoder();
          const back = parseSse(sse).flatMap((e) => reread.decode(e));
          expect(textOfEvents(back)).toBe(textOfEvents(relayed));
          expect(back.some((e) => e.type === 'end' || e.type === 'error')).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
