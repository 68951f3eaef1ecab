import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldEvents, ResponseAccumulator } from '../../gateway/cache/accumulate.js';
import { entryToSse, pieces, replayEvents } from '../../gateway/cache/replay.js';
import { formats, type ChatResponse, type Choice, type FormatId, type Part, type StreamEvent } from '../../gateway/formats/index.js';
import { parseSse } from '../helpers/formats.js';
import { text } from '../property/arbitraries.js';
import { argsJson, chatResponse } from './arbitraries.js';

const RUNS = 500;

const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;
const isLow = (u: number) => u >= 0xdc00 && u <= 0xdfff;

/** What a stream can say of an answer: adjacent text parts are one run of deltas, an empty one is none. */
function streamable(res: ChatResponse): ChatResponse {
  const choice = (c: Choice): Choice => {
    const content: Part[] = [];
    for (const p of c.content) {
      const last = content[content.length - 1];
      if (p.type === 'text' && p.text === '') continue;
      if (p.type === 'text' && last?.type === 'text') content[content.length - 1] = { type: 'text', text: last.text + p.text };
      else content.push(p);
    }
    return { ...c, content };
  };
  return { ...res, choices: res.choices.map(choice).sort((a, b) => a.index - b.index) };
}

describe('pieces', () => {
  it('cuts text into pieces of at most n code points that join back, never inside a surrogate pair', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), text, fc.integer({ min: 1, max: 20 }), (a, b, n) => {
        const s = a + b;
        const out = pieces(s, n);
        expect(out.join('')).toBe(s);
        for (const p of out) {
          expect(p).not.toBe('');
          expect([...p].length).toBeLessThanOrEqual(n);
        }
        for (let i = 1; i < out.length; i++) {
          const prev = out[i - 1] ?? '';
          expect(isHigh(prev.charCodeAt(prev.length - 1)) && isLow((out[i] ?? '').charCodeAt(0))).toBe(false);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps an emoji whole at a piece boundary', () => {
    expect(pieces('ab😀cd', 3)).toEqual(['ab😀', 'cd']);
  });
});

describe('replayEvents', () => {
  it('folds back into the cached answer: text, tool calls in order, finish reasons, stop sequences, usage', () => {
    fc.assert(
      fc.property(chatResponse(), fc.integer({ min: 1, max: 20 }), (res, n) => {
        expect(foldEvents(replayEvents(res, { pieceChars: n }))).toEqual(streamable(res));
      }),
      { numRuns: RUNS },
    );
  });

  it('is a complete stream: start first, end last, one finish per choice, deltas no longer than asked', () => {
    fc.assert(
      fc.property(chatResponse(), fc.integer({ min: 1, max: 20 }), (res, n) => {
        const events = replayEvents(res, { pieceChars: n });
        expect(events[0]?.type).toBe('start');
        expect(events.at(-1)).toEqual({ type: 'end' });
        expect(events.at(-2)).toEqual({ type: 'usage', usage: res.usage });
        const finishes = events.flatMap((e) => (e.type === 'finish' ? [e.choice] : []));
        expect(finishes).toEqual(res.choices.map((c) => c.index));
        for (const e of events) {
          if (e.type === 'text') expect([...e.text].length).toBeLessThanOrEqual(n);
          if (e.type === 'tool_args') expect([...e.delta].length).toBeLessThanOrEqual(n);
        }
        const acc = new ResponseAccumulator();
        acc.pushAll(events);
        expect(acc.complete).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('sends a long text and long arguments as several deltas, in order', () => {
    const args = JSON.stringify({ city: 'Paris', days: [1, 2, 3], note: 'x'.repeat(40) });
    const res: ChatResponse = {
      id: 'r1',
      model: 'm',
      created: 7,
      choices: [{ index: 0, content: [{ type: 'text', text: 'a'.repeat(50) }, { type: 'tool_call', id: 'call_1', name: 'f', arguments: args }, { type: 'text', text: 'after' }], finishReason: 'tool_calls' }],
      usage: { inputTokens: 3, outputTokens: 4 },
    };
    const types = replayEvents(res).map((e) => e.type);
    expect(types.filter((t) => t === 'text').length).toBe(Math.ceil(50 / 16) + 1);
    expect(types.filter((t) => t === 'tool_args').length).toBe(Math.ceil(args.length / 16));
    expect(types.indexOf('tool_call')).toBeGreaterThan(types.indexOf('text'));
    expect(types.lastIndexOf('text')).toBeGreaterThan(types.lastIndexOf('tool_args'));
    expect(types.slice(-3)).toEqual(['finish', 'usage', 'end']);
  });
});

describe('ResponseAccumulator', () => {
  const start: StreamEvent = { type: 'start', id: 'x', model: 'm', created: 1, inputTokens: 5 };

  it('calls a stream without end, with an unfinished choice or with an error incomplete', () => {
    const cut = new ResponseAccumulator();
    cut.pushAll([start, { type: 'text', choice: 0, text: 'hi' }, { type: 'finish', choice: 0, reason: 'stop' }]);
    expect(cut.complete).toBe(false);
    const unfinished = new ResponseAccumulator();
    unfinished.pushAll([start, { type: 'text', choice: 0, text: 'hi' }, { type: 'text', choice: 1, text: 'yo' }, { type: 'finish', choice: 0, reason: 'stop' }, { type: 'end' }]);
    expect(unfinished.complete).toBe(false);
    expect(unfinished.response().choices[1]?.finishReason).toBe('error');
    const failed = new ResponseAccumulator();
    failed.pushAll([start, { type: 'finish', choice: 0, reason: 'stop' }, { type: 'error', message: 'boom', errorType: 'api_error' }, { type: 'end' }]);
    expect(failed.complete).toBe(false);
    expect(failed.error).toBe('boom');
  });

  it('treats a repeated tool_call header for one index as the same call', () => {
    const res = foldEvents([
      start,
      { type: 'tool_call', choice: 0, index: 0, id: 'c1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: '{"a"' },
      { type: 'tool_call', choice: 0, index: 0, id: 'c1', name: 'f' },
      { type: 'tool_args', choice: 0, index: 0, delta: ':1}' },
      { type: 'finish', choice: 0, reason: 'tool_calls' },
      { type: 'end' },
    ]);
    expect(res.choices[0]?.content).toEqual([{ type: 'tool_call', id: 'c1', name: 'f', arguments: '{"a":1}' }]);
    expect(res.usage).toEqual({ inputTokens: 5, outputTokens: 0 });
  });
});

/** What a caller of either format can tell of an answer, streamed or not: per choice its text, calls, finish. */
function view(res: ChatResponse) {
  return {
    id: res.id,
    model: res.model,
    choices: res.choices.map((c) => ({
      index: c.index,
      text: c.content.map((p) => (p.type === 'text' ? p.text : '')).join(''),
      calls: c.content.flatMap((p) => (p.type === 'tool_call' ? [{ id: p.id, name: p.name, arguments: p.arguments }] : [])),
      finishReason: c.finishReason,
      stopSequence: c.stopSequence,
    })),
  };
}

const IDS: FormatId[] = ['openai-chat', 'anthropic-messages', 'openai-responses'];
const requestBody: Record<FormatId, (usage: boolean) => Record<string, unknown>> = {
  'openai-chat': (usage) => ({ model: 'r', stream: true, messages: [{ role: 'user', content: 'hi' }], ...(usage ? { stream_options: { include_usage: true } } : {}) }),
  'anthropic-messages': () => ({ model: 'r', stream: true, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }] }),
  'openai-responses': () => ({ model: 'r', stream: true, input: 'hi' }),
};

describe.each(IDS)('entryToSse for a %s caller', (id) => {
  const format = formats[id];

  it('streams what the non-streaming answer of the same entry says', () => {
    fc.assert(
      fc.property(chatResponse({ indices: 'dense', args: argsJson }), fc.boolean(), fc.integer({ min: 1, max: 20 }), (res, askUsage, n) => {
        const req = format.parseRequest(requestBody[id](askUsage));
        const chunks = entryToSse(format, req, res, { pieceChars: n });
        expect(chunks.every((c) => c !== '')).toBe(true);
        const decoder = format.createStreamDecoder();
        const events = parseSse(chunks.join('')).flatMap((ev) => decoder.decode(ev));
        const acc = new ResponseAccumulator();
        acc.pushAll(events);
        expect(acc.complete).toBe(true);
        const streamed = acc.response();
        const whole = format.parseResponse(JSON.parse(JSON.stringify(format.renderResponse(res))));
        expect(view(streamed)).toEqual(view(whole));
        // OpenAI Chat reports usage in a stream only to a caller who asked for it; Anthropic and Responses always do.
        if (id !== 'openai-chat' || askUsage) expect(streamed.usage).toEqual(whole.usage);
        else expect(chunks.some((c) => c.includes('"usage"'))).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});
