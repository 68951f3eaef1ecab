import { z } from 'zod';

/**
 * The parts of the Messages API Keel reads (https://docs.anthropic.com/en/api/messages).
 * Loose objects: unknown fields and block types survive for Anthropic-format targets.
 */
export const block = z.looseObject({ type: z.string() });

export const textBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
export const imageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.union([
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
  ]),
});
export const toolUseBlock = z.looseObject({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.unknown() });
export const toolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string(),
  content: z.union([z.string(), z.array(block)]).optional(),
  is_error: z.boolean().optional(),
});

const content = z.union([z.string(), z.array(block)]);

export const messagesRequest = z.looseObject({
  model: z.string().min(1),
  max_tokens: z.number({ error: 'max_tokens is required: a positive integer' }).int().positive(),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content })).min(1, 'messages must contain at least one message'),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stream: z.boolean().optional(),
  tools: z.array(z.looseObject({ name: z.string(), description: z.string().optional(), input_schema: z.record(z.string(), z.unknown()).optional() })).optional(),
  tool_choice: z
    .looseObject({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional(), disable_parallel_tool_use: z.boolean().optional() })
    .optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
});

export type MessagesRequest = z.infer<typeof messagesRequest>;

export const usage = z.looseObject({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
});
export type AnthropicUsage = z.infer<typeof usage>;

export const messageResponse = z.looseObject({
  id: z.string(),
  model: z.string(),
  content: z.array(block),
  stop_reason: z.string().nullish(),
  stop_sequence: z.string().nullish(),
  usage: usage.optional(),
});
