import type { ChatRequest, ChatResponse, FinishReason, Message, Part } from '../formats/canonical.js';

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

function partOut(p: Part): unknown {
  switch (p.type) {
    case 'text':
      return { type: 'text', content: p.text };
    case 'image':
      return { type: 'image', ...(p.source.kind === 'url' ? { uri: p.source.url } : { mime_type: p.source.mediaType }) };
    case 'tool_call':
      return { type: 'tool_call', id: p.id, name: p.name, arguments: p.arguments };
    case 'tool_result':
      return { type: 'tool_call_response', id: p.toolCallId, response: p.content };
  }
}

const messageOut = (m: Message) => ({ role: m.role, parts: m.content.map(partOut) });

export function captureInput(req: ChatRequest): CapturedContent {
  return { system: req.system === undefined ? undefined : [{ type: 'text', content: req.system }], input: req.messages.map(messageOut), output: undefined };
}

export function outputOfResponse(res: ChatResponse): unknown[] {
  return res.choices.map((c) => ({ role: 'assistant', parts: c.content.map(partOut), finish_reason: c.finishReason }));
}

export function outputOfText(text: string, finish: FinishReason | undefined): unknown[] {
  return [{ role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: finish ?? 'error' }];
}
