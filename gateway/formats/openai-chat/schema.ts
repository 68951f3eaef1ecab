import { z } from 'zod';

/**
 * The parts of the Chat Completions request Keel reads
 * (https://platform.openai.com/docs/api-reference/chat/create). Objects are loose:
 * new OpenAI parameters pass through to OpenAI-format targets untouched.
 */
const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({ type: z.literal('image_url'), image_url: z.looseObject({ url: z.string() }) });
// Parts Keel does not model (audio, files) pass; a text or image_url part that fails its own
// schema must not fall through to here and reach the mapping half-formed (an image_url of null
// was a TypeError, a 500; a text of 5 was silently dropped from the prompt).
const otherPart = z.looseObject({ type: z.string().refine((t) => t !== 'text' && t !== 'image_url', 'a text part needs a string text; an image_url part needs image_url.url') });
export const contentParts = z.array(z.union([textPart, imagePart, otherPart]));
const content = z.union([z.string(), contentParts]);

export const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const message = z.discriminatedUnion('role', [
  z.looseObject({ role: z.enum(['system', 'developer']), content }),
  z.looseObject({ role: z.literal('user'), content }),
  z.looseObject({
    role: z.literal('assistant'),
    content: content.nullish(),
    tool_calls: z.array(toolCall).optional(),
    function_call: z.looseObject({ name: z.string(), arguments: z.string() }).nullish(),
  }),
  z.looseObject({ role: z.literal('tool'), tool_call_id: z.string(), content }),
  z.looseObject({ role: z.literal('function'), name: z.string(), content: z.string().nullable() }),
]);

const functionDef = z.looseObject({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() });

export const chatRequest = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1, 'messages must contain at least one message'),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  n: z.number().int().min(1).nullish(),
  seed: z.number().int().nullish(),
  tools: z.array(z.looseObject({ type: z.literal('function'), function: functionDef })).optional(),
  functions: z.array(functionDef).optional(),
  tool_choice: z
    .union([z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) })])
    .optional(),
  function_call: z.union([z.enum(['auto', 'none']), z.looseObject({ name: z.string() })]).optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: z.looseObject({ type: z.string() }).optional(),
  user: z.string().optional(),
});

export type OpenAIChatRequest = z.infer<typeof chatRequest>;
export type OpenAIMessage = z.infer<typeof message>;
export type OpenAIContent = z.infer<typeof content>;

const usage = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().optional() }).nullish(),
});

export const chatResponse = z.looseObject({
  id: z.string(),
  model: z.string(),
  created: z.number().optional(),
  choices: z.array(
    z.looseObject({
      index: z.number().optional(),
      message: z.looseObject({ content: z.string().nullish(), refusal: z.string().nullish(), tool_calls: z.array(toolCall).nullish() }),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: usage.nullish(),
});

export const streamChunk = z.looseObject({
  id: z.string().optional(),
  model: z.string().optional(),
  created: z.number().optional(),
  choices: z
    .array(
      z.looseObject({
        index: z.number().optional(),
        delta: z
          .looseObject({
            content: z.string().nullish(),
            refusal: z.string().nullish(),
            tool_calls: z
              .array(z.looseObject({ index: z.number(), id: z.string().nullish(), function: z.looseObject({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish() }))
              .nullish(),
          })
          .nullish(),
        finish_reason: z.string().nullish(),
      }),
    )
    .nullish(),
  usage: usage.nullish(),
  error: z.looseObject({ message: z.string().optional(), type: z.string().nullish(), code: z.union([z.string(), z.number()]).nullish() }).optional(),
});

export type OpenAIUsage = z.infer<typeof usage>;
