import type { z } from 'zod';
import { KeelError } from '../../errors.js';
import type { ChatRequest, SseEvent, StreamEvent, Usage } from '../canonical.js';
import type { StreamDecoder, StreamEncoder } from '../types.js';
import { badUpstream, nowSeconds, parseUpstreamJson, sse } from '../shared.js';
import { renderError } from './errors.js';
import { finishIn, finishOut, usageIn, usageOut } from './response.js';
import { streamChunk } from './schema.js';

/** Chat Completions chunks → canonical events. https://platform.openai.com/docs/api-reference/chat-streaming */
export function createStreamDecoder(): StreamDecoder {
  let started = false;
  return {
    decode(ev: SseEvent): StreamEvent[] {
      if (ev.data.trim() === '[DONE]') return [{ type: 'end' }];
      const json = parseUpstreamJson(ev.data);
      const chunk = plainTokenChunk(json) ?? checked(json);
      if (chunk.error) return [{ type: 'error', message: chunk.error.message ?? 'upstream error', errorType: chunk.error.type ?? 'api_error' }];
      const out: StreamEvent[] = [];
      if (!started && chunk.id !== undefined) {
        started = true;
        out.push({ type: 'start', id: chunk.id, model: chunk.model ?? '', created: chunk.created ?? nowSeconds() });
      }
      for (const c of chunk.choices ?? []) {
        const choice = c.index ?? 0;
        const text = c.delta?.content ?? c.delta?.refusal;
        if (text) out.push({ type: 'text', choice, text });
        for (const tc of c.delta?.tool_calls ?? []) {
          if (tc.id || tc.function?.name) out.push({ type: 'tool_call', choice, index: tc.index, id: tc.id ?? '', name: tc.function?.name ?? '' });
          if (tc.function?.arguments) out.push({ type: 'tool_args', choice, index: tc.index, delta: tc.function.arguments });
        }
        if (c.finish_reason) out.push({ type: 'finish', choice, reason: finishIn(c.finish_reason) });
      }
      if (chunk.usage) out.push({ type: 'usage', usage: usageIn(chunk.usage) });
      return out;
    },
  };
}

type StreamChunk = z.infer<typeof streamChunk>;

function checked(json: unknown): StreamChunk {
  const parsed = streamChunk.safeParse(json);
  if (!parsed.success) throw badUpstream('a stream chunk', parsed.error);
  return parsed.data;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): v is string | undefined => v === undefined || typeof v === 'string';
const nullishString = (v: unknown): v is string | null | undefined => v === undefined || v === null || typeof v === 'string';

/**
 * The chunk itself when it is the common token chunk and streamChunk would accept it as it is:
 * text deltas, finish reasons, `usage: null`. zod's walk of every chunk was the larger half of
 * decoding one (a profile of a 50-token stream); anything else (usage, tool calls, an error,
 * a field of the wrong type) returns undefined and goes through the schema, which decides and
 * words the error. Accepting only what the schema accepts, unchanged (loose objects keep
 * unknown keys), is what makes the two paths give the same chunk.
 */
export function plainTokenChunk(v: unknown): StreamChunk | undefined {
  if (!isObject(v) || !optString(v.id) || !optString(v.model) || !(v.created === undefined || typeof v.created === 'number')) return undefined;
  if (v.error !== undefined || !(v.usage === undefined || v.usage === null)) return undefined;
  const choices = v.choices;
  if (Array.isArray(choices)) {
    for (const c of choices) {
      if (!isObject(c) || !(c.index === undefined || typeof c.index === 'number') || !nullishString(c.finish_reason)) return undefined;
      const d = c.delta;
      if (d === undefined || d === null) continue;
      if (!isObject(d) || !nullishString(d.content) || !nullishString(d.refusal) || !(d.tool_calls === undefined || d.tool_calls === null)) return undefined;
    }
  } else if (choices !== undefined && choices !== null) return undefined;
  // Checked above field by field against streamChunk; the schema's own parse would return an equal object.
  return v;
}

/** Canonical events → Chat Completions chunks for an OpenAI caller. */
export function createStreamEncoder(req: ChatRequest): StreamEncoder {
  let id = `chatcmpl-keel-${Math.random().toString(36).slice(2, 12)}`;
  let model = req.model;
  let created = nowSeconds();
  let usage: Usage | undefined;
  const roleSent = new Set<number>();
  const chunk = (choice: number, delta: Record<string, unknown>, finish: string | null = null) => {
    const d = roleSent.has(choice) ? delta : { role: 'assistant', ...delta };
    roleSent.add(choice);
    return sse({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: choice, delta: d, logprobs: null, finish_reason: finish }] });
  };
  return {
    encode(ev: StreamEvent): string {
      switch (ev.type) {
        case 'start':
          ({ id, model, created } = ev);
          return chunk(0, { content: '' });
        case 'text':
          return chunk(ev.choice, { content: ev.text });
        case 'tool_call':
          return chunk(ev.choice, { tool_calls: [{ index: ev.index, id: ev.id, type: 'function', function: { name: ev.name, arguments: '' } }] });
        case 'tool_args':
          return chunk(ev.choice, { tool_calls: [{ index: ev.index, function: { arguments: ev.delta } }] });
        case 'finish':
          return chunk(ev.choice, {}, finishOut(ev.reason));
        case 'usage':
          usage = ev.usage;
          return '';
        case 'error':
          return sse({ error: { message: ev.message, type: ev.errorType, code: null } });
        case 'end': {
          const tail = req.streamUsage && usage ? sse({ id, object: 'chat.completion.chunk', created, model, choices: [], usage: usageOut(usage) }) : '';
          return `${tail}data: [DONE]\n\n`;
        }
      }
    },
    // The openai SDK raises an APIError for a chunk carrying `error`.
    error: (err: KeelError) => sse(renderError(err)),
    terminator: () => 'data: [DONE]\n\n',
  };
}
