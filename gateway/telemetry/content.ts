import type { ChatRequest, ChatResponse, FinishReason, Message, Part } from '../formats/canonical.js';
import { clip, CONTENT_CHARS } from './bounds.js';

/**
 * Prompts and completions in the OTel GenAI message shape (standards.md §1.8):
 * `{role, parts: [{type:'text', content} | {type:'tool_call', …} | …]}`. Recorded only
 * when `telemetry.capture_content` is on: they are the caller's data, often PII.
 */
export interface CapturedContent {
  system: unknown[] | undefined;
  input: unknown[];
  output: unknown[] | undefined;
}

/**
 * Each string cut at capture to what its attribute can hold anyway (bounds.ts CONTENT_CHARS):
 * the record crosses to the span thread by structured clone, and a 5 MB prompt need not.
 */
const cut = (s: string) => clip(s, CONTENT_CHARS);

function partOut(p: Part): unknown {
  switch (p.type) {
    case 'text':
      return { type: 'text', content: cut(p.text) };
    case 'image':
      return { type: 'image', ...(p.source.kind === 'url' ? { uri: cut(p.source.url) } : { mime_type: cut(p.source.mediaType) }) };
    case 'tool_call':
      return { type: 'tool_call', id: cut(p.id), name: cut(p.name), arguments: cut(p.arguments) };
    case 'tool_result':
      return { type: 'tool_call_response', id: cut(p.toolCallId), response: cut(p.content) };
  }
}

const messageOut = (m: Message) => ({ role: m.role, parts: m.content.map(partOut) });

export function captureInput(req: ChatRequest): CapturedContent {
  return { system: req.system === undefined ? undefined : [{ type: 'text', content: cut(req.system) }], input: req.messages.map(messageOut), output: undefined };
}

export function outputOfResponse(res: ChatResponse): unknown[] {
  return res.choices.map((c) => ({ role: 'assistant', parts: c.content.map(partOut), finish_reason: c.finishReason }));
}

export function outputOfText(text: string, finish: FinishReason | undefined): unknown[] {
  return [{ role: 'assistant', parts: [{ type: 'text', content: cut(text) }], finish_reason: finish ?? 'error' }];
}
