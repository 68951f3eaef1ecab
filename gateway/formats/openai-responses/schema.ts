import { z } from 'zod';

/**
 * The parts of the Responses API Keel reads (https://platform.openai.com/docs/api-reference/responses;
 * the wire shapes are the openai SDK's `resources/responses/responses.d.ts`). Objects are loose: new
 * parameters and item types pass through to Responses-format targets untouched.
 */
export const item = z.looseObject({ type: z.string().optional() });
export type Item = z.infer<typeof item>;

export const inputText = z.looseObject({ type: z.literal('input_text'), text: z.string() });
export const outputText = z.looseObject({ type: z.literal('output_text'), text: z.string() });
export const refusal = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });
export const inputImage = z.looseObject({ type: z.literal('input_image'), image_url: z.string().nullish(), file_id: z.string().nullish() });
/** Parts Keel does not model (files, audio) pass; a known part failing its own schema must not fall through here half-formed. */
const KNOWN_PARTS = ['input_text', 'output_text', 'refusal', 'input_image'];
const otherPart = z.looseObject({ type: z.string().refine((t) => !KNOWN_PARTS.includes(t), 'a text part needs a string text; an input_image needs image_url') });
export const part = z.union([inputText, outputText, refusal, inputImage, otherPart]);
export type ContentPart = z.infer<typeof part>;
const content = z.union([z.string(), z.array(part)]);

export const messageItem = z.looseObject({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content,
});
export const functionCallItem = z.looseObject({ type: z.literal('function_call'), call_id: z.string(), name: z.string(), arguments: z.string() });
export const functionOutputItem = z.looseObject({ type: z.literal('function_call_output'), call_id: z.string(), output: content });

export const functionTool = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});

const textFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({ type: z.literal('json_schema'), name: z.string().min(1), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullish(), description: z.string().nullish() }),
]);

export const responsesRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(item)]).optional(),
  instructions: z.string().nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
  tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.looseObject({ type: z.string(), name: z.string().optional() })]).optional(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z.looseObject({ format: textFormat.optional() }).nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  user: z.string().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().nullish(),
  conversation: z.union([z.string(), z.looseObject({ id: z.string() })]).nullish(),
});
export type ResponsesRequest = z.infer<typeof responsesRequest>;

export const usage = z.looseObject({
  input_tokens: z.number(),
  output_tokens: z.number(),
  input_tokens_details: z.looseObject({ cached_tokens: z.number().nullish() }).nullish(),
  output_tokens_details: z.looseObject({ reasoning_tokens: z.number().nullish() }).nullish(),
});
export type ResponsesUsage = z.infer<typeof usage>;

const responseError = z.looseObject({ code: z.string().nullish(), message: z.string().nullish() });

/** A Response object (non-streaming body; the snapshot in response.* stream events). */
export const response = z.looseObject({
  id: z.string(),
  model: z.string(),
  created_at: z.number().nullish(),
  status: z.string().nullish(),
  error: responseError.nullish(),
  incomplete_details: z.looseObject({ reason: z.string().nullish() }).nullish(),
  output: z.array(item),
  usage: usage.nullish(),
});
export type ResponseObject = z.infer<typeof response>;

export const outputMessage = z.looseObject({ type: z.literal('message'), content: z.array(z.looseObject({ type: z.string(), text: z.string().optional(), refusal: z.string().optional() })) });

/** Stream events Keel reads; others (reasoning, annotations, hosted tools) carry nothing it needs. */
export const streamEvent = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('response.created'), response }),
  z.looseObject({ type: z.literal('response.output_item.added'), output_index: z.number(), item }),
  z.looseObject({ type: z.literal('response.output_item.done'), output_index: z.number(), item }),
  z.looseObject({ type: z.literal('response.output_text.delta'), delta: z.string() }),
  z.looseObject({ type: z.literal('response.refusal.delta'), delta: z.string() }),
  z.looseObject({ type: z.literal('response.function_call_arguments.delta'), output_index: z.number(), delta: z.string() }),
  z.looseObject({ type: z.literal('response.completed'), response }),
  z.looseObject({ type: z.literal('response.incomplete'), response }),
  z.looseObject({ type: z.literal('response.failed'), response }),
  z.looseObject({ type: z.literal('error'), message: z.string().nullish(), code: z.string().nullish() }),
]);
export type StreamEventBody = z.infer<typeof streamEvent>;
