import type { ChatResponse, Part } from '../canonical.js';
import { badUpstream, nowSeconds } from '../shared.js';
import { finishIn, finishOut, messageId, usageIn, usageOut } from './mapping.js';
import { messageResponse, textBlock, toolUseBlock } from './schema.js';

export function parseResponse(raw: unknown): ChatResponse {
  const parsed = messageResponse.safeParse(raw);
  if (!parsed.success) throw badUpstream('a message', parsed.error);
  const body = parsed.data;
  const content: Part[] = [];
  for (const b of body.content) {
    const text = textBlock.safeParse(b);
    if (text.success) content.push({ type: 'text', text: text.data.text });
    const tool = toolUseBlock.safeParse(b);
    if (tool.success) content.push({ type: 'tool_call', id: tool.data.id, name: tool.data.name, arguments: JSON.stringify(tool.data.input ?? {}) });
  }
  const finishReason = finishIn(body.stop_reason);
  const choice = body.stop_sequence ? { index: 0, content, finishReason, stopSequence: body.stop_sequence } : { index: 0, content, finishReason };
  return { id: body.id, model: body.model, created: nowSeconds(), choices: [choice], usage: usageIn(body.usage) };
}

function parsedInput(args: string): unknown {
  try {
    return JSON.parse(args === '' ? '{}' : args);
  } catch {
    return {};
  }
}

/** A canonical response as an Anthropic `message`; Anthropic has one choice, so choice 0. */
export function renderResponse(res: ChatResponse): Record<string, unknown> {
  const choice = res.choices[0];
  const content = (choice?.content ?? []).flatMap((p): Record<string, unknown>[] => {
    if (p.type === 'text') return p.text === '' ? [] : [{ type: 'text', text: p.text }];
    if (p.type === 'tool_call') return [{ type: 'tool_use', id: p.id, name: p.name, input: parsedInput(p.arguments) }];
    return [];
  });
  return {
    id: messageId(res.id),
    type: 'message',
    role: 'assistant',
    model: res.model,
    content,
    stop_reason: finishOut(choice?.finishReason ?? 'stop'),
    stop_sequence: choice?.stopSequence ?? null,
    usage: usageOut(res.usage),
  };
}
