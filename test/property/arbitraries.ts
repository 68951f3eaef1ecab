import fc from 'fast-check';
import { expect } from 'vitest';
import { KeelError } from '../../gateway/errors.js';
import type { ChatRequest, Part } from '../../gateway/formats/index.js';

/**
 * Generators shared by the property tests: valid-shaped bodies of both wire formats, and the
 * hostile versions of them a caller (or a broken provider) can send (DESIGN.md §6: bad input
 * gets a clear 4xx, the process stays up).
 */

// FC_SEED=… reruns a failure fast-check reported; otherwise every run explores new cases.
if (process.env.FC_SEED !== undefined) fc.configureGlobal({ seed: Number(process.env.FC_SEED) });

/** Code units a parser can trip on: lone surrogates, NUL, quotes, line separators, any code point. */
const hostileUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\u0000', '"', '\\', '\n', '\r', '\u2028', '\ufeff', '😀', 'e\u0301') },
);

export const text = fc.string({ unit: hostileUnit, maxLength: 24 });
const nonEmpty = fc.string({ unit: hostileUnit, minLength: 1, maxLength: 24 });
/** Keys that collide with Object.prototype or with the formats' own field names. */
export const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'type', 'role', 'content', 'model', 'messages', 'text', 'id', 'index'),
  fc.string({ maxLength: 8 }),
);

/** Any JSON value, with hostile keys and strings. */
export const jsonish: fc.Arbitrary<unknown> = fc.anything({ key, maxDepth: 4, maxKeys: 5, values: [fc.boolean(), fc.integer(), fc.double(), text, fc.constant(null)] });

/** What a JSON body can hold, and more: undefined, NaN, -0, null-prototype objects, sparse arrays. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(jsonish, fc.anything({ key, maxDepth: 3, maxKeys: 4, withNullPrototype: true, withSparseArray: true }));

function nest(value: unknown, depth: number): unknown {
  let v = value;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** Replacement values: wrong types, huge strings, nesting up to 50, hostile unicode. */
export const replacement: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: anyValue },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.tuple(anyValue, fc.integer({ min: 1, max: 50 })).map(([v, d]) => nest(v, d)) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, '', [], {}, [null], { type: null }) },
  // null is what a JSON body most often holds where an object was due (`"image_url": null`).
  { weight: 2, arbitrary: fc.constant(null) },
);

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (typeof value === 'object' && value !== null) for (const k of Object.keys(value)) paths((value as Record<string, unknown>)[k], [...prefix, k], out);
  return out;
}

export type Mutation = { at: number; op: 'delete' | 'replace' | 'nest'; value: unknown; depth: number };

export const mutation: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), op: fc.constantFrom('delete', 'replace', 'nest'), value: replacement, depth: fc.integer({ min: 1, max: 50 }) });

/** `body` (a JSON value, left untouched) with one field deleted, replaced or buried under nesting. */
export function mutate(body: unknown, m: Mutation): unknown {
  const copy: unknown = structuredClone(body);
  const all = paths(copy);
  const path = all[m.at % all.length] ?? [];
  if (path.length === 0) return m.op === 'delete' ? undefined : m.op === 'nest' ? nest(copy, m.depth) : m.value;
  const parent = path.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], copy) as Record<string | number, unknown>;
  const last = path[path.length - 1] ?? '';
  if (m.op === 'delete') {
    if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1);
    else delete parent[last];
  } else parent[last] = m.op === 'nest' ? nest(parent[last], m.depth) : m.value;
  return copy;
}

export const mutations = (body: fc.Arbitrary<unknown>) => fc.tuple(body, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([b, ms]) => ms.reduce(mutate, b));

/** Tool-call arguments as models write them: a JSON object, or nothing. */
const argsObject = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
const argsText = fc.oneof(argsObject.map((o) => JSON.stringify(o)), fc.constant(''));
const schema = fc.constantFrom({ type: 'object', properties: {} }, { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] });
const image = fc.oneof(fc.webUrl(), fc.constant('data:image/png;base64,iVBORw0KGgo='));

const oaiParts = fc.array(
  fc.oneof(
    fc.record({ type: fc.constant('text'), text }),
    fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: image }) }),
  ),
  { minLength: 1, maxLength: 3 },
);
const oaiContent = fc.oneof(nonEmpty, oaiParts);
const oaiToolCall = fc.record({ id: nonEmpty, type: fc.constant('function'), function: fc.record({ name: nonEmpty, arguments: argsText }) });

const oaiMessage = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'developer'), content: oaiContent }),
  fc.record({ role: fc.constant('user'), content: oaiContent }),
  fc.record({ role: fc.constant('assistant'), content: fc.oneof(nonEmpty, fc.constant(null)), tool_calls: fc.array(oaiToolCall, { minLength: 1, maxLength: 2 }) }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('tool'), tool_call_id: nonEmpty, content: nonEmpty }),
);

/** A valid Chat Completions request (https://platform.openai.com/docs/api-reference/chat/create), with one user turn at least. */
export const openaiRequest = fc.record(
  {
    model: nonEmpty,
    messages: fc.tuple(fc.array(oaiMessage, { maxLength: 4 }), fc.record({ role: fc.constant('user'), content: oaiContent })).map(([ms, last]) => [...ms, last]),
    stream: fc.boolean(),
    stream_options: fc.record({ include_usage: fc.boolean() }),
    max_tokens: fc.integer({ min: 1, max: 1_000_000 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    stop: fc.oneof(text, fc.array(text, { maxLength: 3 })),
    n: fc.integer({ min: 1, max: 3 }),
    seed: fc.integer(),
    tools: fc.array(fc.record({ type: fc.constant('function'), function: fc.record({ name: nonEmpty, description: text, parameters: schema }) }), { minLength: 1, maxLength: 3 }),
    tool_choice: fc.oneof(fc.constantFrom('auto', 'none', 'required'), fc.record({ type: fc.constant('function'), function: fc.record({ name: nonEmpty }) })),
    parallel_tool_calls: fc.boolean(),
    response_format: fc.record({ type: fc.constantFrom('text', 'json_object') }),
    user: text,
  },
  { requiredKeys: ['model', 'messages'] },
);

const antBlock = fc.oneof(
  fc.record({ type: fc.constant('text'), text: nonEmpty }),
  fc.record({ type: fc.constant('image'), source: fc.oneof(fc.record({ type: fc.constant('url'), url: fc.webUrl() }), fc.record({ type: fc.constant('base64'), media_type: fc.constant('image/png'), data: fc.base64String({ maxLength: 16 }) })) }),
  fc.record({ type: fc.constant('tool_use'), id: nonEmpty, name: nonEmpty, input: argsObject }),
  fc.record({ type: fc.constant('tool_result'), tool_use_id: nonEmpty, content: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 2 })), is_error: fc.boolean() }, { requiredKeys: ['type', 'tool_use_id'] }),
  fc.record({ type: fc.constantFrom('thinking', 'document', 'server_tool_use'), data: text }),
);
const antMessage = fc.record({ role: fc.constantFrom('user', 'assistant'), content: fc.oneof(nonEmpty, fc.array(antBlock, { minLength: 1, maxLength: 3 })) });

/** A valid Messages request (https://docs.anthropic.com/en/api/messages). */
export const anthropicRequest = fc.record(
  {
    model: nonEmpty,
    max_tokens: fc.integer({ min: 1, max: 1_000_000 }),
    messages: fc.array(antMessage, { minLength: 1, maxLength: 4 }),
    system: fc.oneof(text, fc.array(fc.record({ type: fc.constant('text'), text }), { maxLength: 2 })),
    stop_sequences: fc.array(text, { maxLength: 3 }),
    temperature: fc.double({ min: 0, max: 1, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    top_k: fc.integer({ min: 0, max: 500 }),
    stream: fc.boolean(),
    tools: fc.array(fc.record({ name: nonEmpty, description: text, input_schema: schema }, { requiredKeys: ['name'] }), { minLength: 1, maxLength: 3 }),
    tool_choice: fc.record({ type: fc.constantFrom('auto', 'any', 'tool', 'none'), name: nonEmpty, disable_parallel_tool_use: fc.boolean() }, { requiredKeys: ['type'] }),
    metadata: fc.record({ user_id: fc.oneof(text, fc.constant(null)) }),
  },
  { requiredKeys: ['model', 'max_tokens', 'messages'] },
);

const usageOai = fc.record({ prompt_tokens: fc.nat(), completion_tokens: fc.nat(), total_tokens: fc.nat(), prompt_tokens_details: fc.record({ cached_tokens: fc.nat() }) }, { requiredKeys: ['prompt_tokens', 'completion_tokens'] });
const usageAnt = fc.record({ input_tokens: fc.nat(), output_tokens: fc.nat(), cache_read_input_tokens: fc.nat(), cache_creation_input_tokens: fc.nat() });
const finishOai = fc.constantFrom('stop', 'length', 'tool_calls', 'content_filter', 'function_call', null, 'something_new');
const stopAnt = fc.constantFrom('end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'refusal', 'pause_turn', null);

/** A valid chat.completion an OpenAI-compatible server sends. */
export const openaiResponse = fc.record(
  {
    id: nonEmpty,
    object: fc.constant('chat.completion'),
    created: fc.nat(),
    model: nonEmpty,
    choices: fc.array(
      fc.record({ index: fc.nat({ max: 3 }), message: fc.record({ role: fc.constant('assistant'), content: fc.oneof(text, fc.constant(null)), tool_calls: fc.array(oaiToolCall, { maxLength: 2 }) }, { requiredKeys: ['role'] }), finish_reason: finishOai }),
      { minLength: 1, maxLength: 2 },
    ),
    usage: usageOai,
  },
  { requiredKeys: ['id', 'model', 'choices'] },
);

/** A valid Messages API response. */
export const anthropicResponse = fc.record(
  {
    id: nonEmpty,
    type: fc.constant('message'),
    role: fc.constant('assistant'),
    model: nonEmpty,
    content: fc.array(fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.record({ type: fc.constant('tool_use'), id: nonEmpty, name: nonEmpty, input: argsObject }), fc.record({ type: fc.constant('thinking'), thinking: text })), { maxLength: 3 }),
    stop_reason: stopAnt,
    stop_sequence: fc.oneof(text, fc.constant(null)),
    usage: usageAnt,
  },
  { requiredKeys: ['id', 'model', 'content'] },
);

/** Chat Completions stream chunks (the `data:` JSON), as an upstream sends them. */
export const openaiChunk = fc.oneof(
  fc.record({
    id: nonEmpty,
    object: fc.constant('chat.completion.chunk'),
    created: fc.nat(),
    model: text,
    choices: fc.array(
      fc.record({
        index: fc.nat({ max: 2 }),
        delta: fc.record({ role: fc.constant('assistant'), content: fc.oneof(text, fc.constant(null)), tool_calls: fc.array(fc.record({ index: fc.nat({ max: 2 }), id: nonEmpty, type: fc.constant('function'), function: fc.record({ name: text, arguments: text }, { requiredKeys: [] }) }, { requiredKeys: ['index'] }), { maxLength: 2 }) }, { requiredKeys: [] }),
        finish_reason: finishOai,
      }),
      { maxLength: 2 },
    ),
    usage: fc.oneof(usageOai, fc.constant(null)),
  }, { requiredKeys: ['id', 'choices'] }),
  fc.record({ error: fc.record({ message: text, type: text, code: fc.oneof(text, fc.integer(), fc.constant(null)) }, { requiredKeys: [] }) }),
);

/** Messages API stream events (the `data:` JSON). */
export const anthropicEvent = fc.oneof(
  fc.record({ type: fc.constant('message_start'), message: fc.record({ id: nonEmpty, type: fc.constant('message'), role: fc.constant('assistant'), model: text, content: fc.constant([]), usage: usageAnt }) }),
  fc.record({ type: fc.constant('content_block_start'), index: fc.nat({ max: 4 }), content_block: fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.record({ type: fc.constant('tool_use'), id: nonEmpty, name: nonEmpty, input: fc.constant({}) }), fc.record({ type: fc.constant('thinking'), thinking: text })) }),
  fc.record({ type: fc.constant('content_block_delta'), index: fc.nat({ max: 4 }), delta: fc.oneof(fc.record({ type: fc.constant('text_delta'), text }), fc.record({ type: fc.constant('input_json_delta'), partial_json: text }), fc.record({ type: fc.constant('signature_delta'), signature: text })) }),
  fc.record({ type: fc.constant('content_block_stop'), index: fc.nat({ max: 4 }) }),
  fc.record({ type: fc.constant('message_delta'), delta: fc.record({ stop_reason: stopAnt, stop_sequence: fc.oneof(text, fc.constant(null)) }), usage: fc.record({ output_tokens: fc.nat() }) }),
  fc.record({ type: fc.constantFrom('message_stop', 'ping', 'some_future_event') }),
  fc.record({ type: fc.constant('error'), error: fc.record({ type: text, message: text }) }),
);

const respPart = fc.oneof(
  fc.record({ type: fc.constant('input_text'), text }),
  fc.record({ type: fc.constant('input_image'), image_url: image, detail: fc.constantFrom('auto', 'low', 'high') }, { requiredKeys: ['type', 'image_url'] }),
  fc.record({ type: fc.constant('input_file'), file_id: nonEmpty }),
);
const respMessage = fc.oneof(
  fc.record({ type: fc.constant('message'), role: fc.constantFrom('user', 'system', 'developer'), content: fc.oneof(nonEmpty, fc.array(respPart, { minLength: 1, maxLength: 3 })) }, { requiredKeys: ['role', 'content'] }),
  fc.record({ type: fc.constant('message'), role: fc.constant('assistant'), content: fc.oneof(nonEmpty, fc.array(fc.record({ type: fc.constant('output_text'), text: nonEmpty, annotations: fc.constant([]) }), { minLength: 1, maxLength: 2 })) }, { requiredKeys: ['role', 'content'] }),
);
const respItem = fc.oneof(
  { weight: 3, arbitrary: respMessage },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('function_call'), call_id: nonEmpty, name: nonEmpty, arguments: argsText }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('function_call_output'), call_id: nonEmpty, output: fc.oneof(nonEmpty, fc.array(fc.record({ type: fc.constant('input_text'), text }), { minLength: 1, maxLength: 2 })) }) },
);
const respUser = fc.record({ role: fc.constant('user'), content: fc.oneof(nonEmpty, fc.array(respPart, { minLength: 1, maxLength: 2 })) });

/** A valid, stateless Responses API request (https://platform.openai.com/docs/api-reference/responses/create). */
export const responsesRequest = fc.record(
  {
    model: nonEmpty,
    input: fc.oneof(nonEmpty, fc.tuple(fc.array(respItem, { maxLength: 4 }), respUser).map(([items, last]) => [...items, last])),
    instructions: text,
    stream: fc.boolean(),
    max_output_tokens: fc.integer({ min: 1, max: 1_000_000 }),
    temperature: fc.double({ min: 0, max: 2, noNaN: true }),
    top_p: fc.double({ min: 0, max: 1, noNaN: true }),
    tools: fc.array(fc.record({ type: fc.constant('function'), name: nonEmpty, description: text, parameters: schema, strict: fc.boolean() }, { requiredKeys: ['type', 'name', 'parameters', 'strict'] }), { minLength: 1, maxLength: 3 }),
    tool_choice: fc.oneof(fc.constantFrom('auto', 'none', 'required'), fc.record({ type: fc.constant('function'), name: nonEmpty })),
    parallel_tool_calls: fc.boolean(),
    text: fc.record({ format: fc.oneof(fc.record({ type: fc.constantFrom('text', 'json_object') }), fc.record({ type: fc.constant('json_schema'), name: nonEmpty, schema, strict: fc.boolean() })) }),
    user: text,
    metadata: fc.dictionary(fc.string({ maxLength: 8 }), text, { maxKeys: 2 }),
    store: fc.boolean(),
  },
  { requiredKeys: ['model', 'input'] },
);

const usageResp = fc.record(
  { input_tokens: fc.nat(), output_tokens: fc.nat(), total_tokens: fc.nat(), input_tokens_details: fc.record({ cached_tokens: fc.nat() }), output_tokens_details: fc.record({ reasoning_tokens: fc.nat() }) },
  { requiredKeys: ['input_tokens', 'output_tokens'] },
);
const respOutputItem = fc.oneof(
  fc.record({ id: nonEmpty, type: fc.constant('message'), role: fc.constant('assistant'), status: fc.constant('completed'), content: fc.array(fc.oneof(fc.record({ type: fc.constant('output_text'), text, annotations: fc.constant([]) }), fc.record({ type: fc.constant('refusal'), refusal: text })), { maxLength: 2 }) }),
  fc.record({ id: nonEmpty, type: fc.constant('function_call'), status: fc.constant('completed'), call_id: nonEmpty, name: nonEmpty, arguments: argsText }),
  fc.record({ id: nonEmpty, type: fc.constant('reasoning'), summary: fc.constant([]) }),
);
const respStatus = fc.oneof(
  fc.record({ status: fc.constant('completed'), incomplete_details: fc.constant(null) }),
  fc.record({ status: fc.constant('incomplete'), incomplete_details: fc.record({ reason: fc.constantFrom('max_output_tokens', 'content_filter') }) }),
);

/** A Response object a Responses-format provider sends (a completed or incomplete one). */
export const responsesResponse = fc
  .tuple(
    fc.record({ id: nonEmpty, object: fc.constant('response'), created_at: fc.nat(), model: nonEmpty, output: fc.array(respOutputItem, { maxLength: 3 }), usage: usageResp, error: fc.constant(null) }, { requiredKeys: ['id', 'model', 'output'] }),
    respStatus,
  )
  .map(([r, st]) => ({ ...r, ...st }));

/** Responses API stream events (the `data:` JSON), as an upstream sends them. */
export const responsesEvent = fc.oneof(
  fc.record({ type: fc.constantFrom('response.created', 'response.in_progress'), sequence_number: fc.nat(), response: responsesResponse.map((r) => ({ ...r, status: 'in_progress', output: [] })) }),
  fc.record({ type: fc.constantFrom('response.output_item.added', 'response.output_item.done'), sequence_number: fc.nat(), output_index: fc.nat({ max: 3 }), item: respOutputItem }),
  fc.record({ type: fc.constantFrom('response.output_text.delta', 'response.refusal.delta'), sequence_number: fc.nat(), item_id: nonEmpty, output_index: fc.nat({ max: 3 }), content_index: fc.constant(0), delta: text }),
  fc.record({ type: fc.constant('response.function_call_arguments.delta'), sequence_number: fc.nat(), item_id: nonEmpty, output_index: fc.nat({ max: 3 }), delta: text }),
  fc.record({ type: fc.constantFrom('response.completed', 'response.incomplete'), sequence_number: fc.nat(), response: responsesResponse }),
  fc.record({ type: fc.constant('response.failed'), sequence_number: fc.nat(), response: responsesResponse.map((r) => ({ ...r, status: 'failed', error: { code: 'server_error', message: 'boom' } })) }),
  fc.record({ type: fc.constantFrom('response.content_part.added', 'response.output_text.done', 'response.some_future_event'), sequence_number: fc.nat() }),
  fc.record({ type: fc.constant('error'), sequence_number: fc.nat(), code: fc.oneof(text, fc.constant(null)), message: text, param: fc.constant(null) }),
);

/** Runs `fn`: it returns, or throws a KeelError with the given code family; anything else fails the property. */
export function onlyKeelErrors<T>(fn: () => T, allowed: (err: KeelError) => boolean): T | KeelError {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KeelError && allowed(err)) return err;
    throw err;
  }
}

export const callerError = (err: KeelError) => err.status >= 400 && err.status < 500 && err.errorClass.startsWith('caller_');
/** A provider's malformed answer: the relay skips the chunk or fails over, never a 5xx of Keel's own making. */
export const providerMalformed = (err: KeelError) => err.code === 'KEEL_UPSTREAM_BAD_RESPONSE' && err.errorClass === 'provider_malformed';

const str = (v: unknown, what: string) => expect(typeof v, what).toBe('string');

function checkPart(p: Part, where: string): void {
  switch (p.type) {
    case 'text':
      return str(p.text, `${where}.text`);
    case 'image':
      if (p.source.kind === 'url') return str(p.source.url, `${where}.url`);
      str(p.source.mediaType, `${where}.mediaType`);
      return str(p.source.data, `${where}.data`);
    case 'tool_call':
      for (const k of ['id', 'name', 'arguments'] as const) str(p[k], `${where}.${k}`);
      return;
    case 'tool_result':
      str(p.toolCallId, `${where}.toolCallId`);
      return str(p.content, `${where}.content`);
    default:
      expect.fail(`${where}: unknown part ${JSON.stringify(p)}`);
  }
}

/**
 * A parsed request is what canonical.ts says it is: a half-formed one (an image without a
 * url) would only fail later, in a translator or at the provider, as a 500 or a confusing 400.
 */
export function checkCanonical(req: ChatRequest): void {
  str(req.model, 'model');
  if (req.system !== undefined) str(req.system, 'system');
  req.messages.forEach((m, i) => {
    expect(['user', 'assistant', 'tool'], `messages.${i}.role`).toContain(m.role);
    m.content.forEach((p, j) => checkPart(p, `messages.${i}.content.${j}`));
  });
  for (const s of req.stop ?? []) str(s, 'stop');
  for (const t of req.tools ?? []) str(t.name, 'tools.name');
}
