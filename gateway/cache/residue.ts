import type { ChatRequest } from '../formats/canonical.js';
import { extend } from '../objects.js';

/**
 * The residue of a request: what the caller's body says that the canonical request does not.
 *
 * A same-format target gets the caller's body as sent (canonical.ts), so a field Keel does not
 * model (`presence_penalty`, `logit_bias`, Anthropic `thinking`, a document block, a tool's
 * `strict`) still reaches the model and changes the answer. Two requests with the same canonical
 * form but different residues must not share a cache entry; so the residue goes into the key.
 * An empty residue is the common case and is what lets an OpenAI and an Anthropic caller share
 * an entry.
 *
 * The residue is found by walking the body against a description of what each format's
 * parseRequest maps (a Spec). Everything not described is residue, except the few fields that
 * do not change the answer (NON_ANSWER) and fields set to null (both APIs read null as unset).
 */

/** A value parseRequest maps entirely (a string, a number, a JSON Schema carried as given). */
type Modelled = true;
/** An object whose listed keys are modelled; any other key is residue, unless in `ignore`. */
interface Obj {
  keys: Readonly<Record<string, Spec>>;
  ignore?: readonly string[];
  /** The parser drops this element whole (an Anthropic server tool): all of it is residue. */
  dropped?: (v: Record<string, unknown>) => boolean;
}
/** An array (or, for content, a string: then nothing to walk) of elements. */
interface Each {
  each: Spec;
}
/** An object told apart by one field; a value of it the parser does not know is residue whole. */
interface By {
  by: string;
  cases: Readonly<Record<string, Obj>>;
}
type Spec = Modelled | Obj | Each | By;

/**
 * Top-level fields that do not change the answer: transport (`stream`, `stream_options`) and
 * bookkeeping (`metadata`, `store`). `user` (Anthropic: `metadata.user_id`) is modelled, and
 * keyed only when the route says so (key.ts).
 */
export const NON_ANSWER = ['stream', 'stream_options', 'user', 'metadata', 'store'] as const;

/** Anthropic prompt-caching marks, at any depth: the same prompt, cached or not, gets the same answer. */
const CACHE_MARK = 'cache_control';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function walk(value: unknown, spec: Spec): unknown {
  if (spec === true || value === null || value === undefined) return undefined;
  if ('each' in spec) return Array.isArray(value) ? walkArray(value, spec.each) : undefined;
  if (!isRecord(value)) return undefined;
  if ('by' in spec) {
    const tag = value[spec.by];
    const obj = typeof tag === 'string' && Object.hasOwn(spec.cases, tag) ? spec.cases[tag] : undefined;
    return obj === undefined ? value : walkObject(value, withTag(obj, spec.by));
  }
  return walkObject(value, spec);
}

// A case's spec with its tag field modelled, made once per case: the specs are constants, and
// building it per element (two objects and a copy of the keys for every message and part) was
// part of the residue's ~1 % of the everything-on profile (bench:profile, issue 18).
const tagged = new WeakMap<Obj, Obj>();

function withTag(obj: Obj, by: string): Obj {
  let t = tagged.get(obj);
  if (t === undefined) tagged.set(obj, (t = extend(obj, { keys: extend(obj.keys, { [by]: true }) })));
  return t;
}

/** Residues by position: `{ i, r }` pairs, so an element's place in the list is part of the key. */
function walkArray(items: unknown[], spec: Spec): unknown {
  let out: { i: number; r: unknown }[] | undefined;
  for (let i = 0; i < items.length; i++) {
    const r = walk(items[i], spec);
    if (r !== undefined) (out ??= []).push({ i, r });
  }
  return out;
}

function walkObject(value: Record<string, unknown>, spec: Obj): unknown {
  if (spec.dropped?.(value) === true) return value;
  // Made on the first residue field only: almost every object has none.
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (v === null || v === undefined || k === CACHE_MARK || spec.ignore?.includes(k) === true) continue;
    const sub = Object.hasOwn(spec.keys, k) ? spec.keys[k] : undefined;
    const r = sub === undefined ? v : walk(v, sub);
    if (r !== undefined) (out ??= {})[k] = r;
  }
  return out;
}

const textOnly: Spec = { each: { by: 'type', cases: { text: { keys: { text: true } } } } };

const openaiFunction: Obj = { keys: { name: true, description: true, parameters: true } };
const openaiToolCall: Obj = { keys: { id: true, type: true, function: { keys: { name: true, arguments: true } } } };
const openaiParts: Spec = { each: { by: 'type', cases: { text: { keys: { text: true } }, image_url: { keys: { image_url: { keys: { url: true } } } } } } };

/** What openai-chat/request.ts maps. `name` on a message, image `detail`, audio and file parts are not. */
const openaiSpec: Obj = {
  ignore: NON_ANSWER,
  keys: {
    model: true,
    max_tokens: true,
    max_completion_tokens: true,
    temperature: true,
    top_p: true,
    stop: true,
    n: true,
    seed: true,
    parallel_tool_calls: true,
    response_format: true,
    tool_choice: true,
    function_call: true,
    tools: { each: { keys: { type: true, function: openaiFunction } } },
    functions: { each: openaiFunction },
    messages: {
      each: {
        by: 'role',
        cases: {
          system: { keys: { content: textOnly } },
          developer: { keys: { content: textOnly } },
          user: { keys: { content: openaiParts } },
          assistant: { keys: { content: textOnly, tool_calls: { each: openaiToolCall }, function_call: { keys: { name: true, arguments: true } } } },
          tool: { keys: { tool_call_id: true, content: textOnly } },
          function: { keys: { name: true, content: true } },
        },
      },
    },
  },
};

const anthropicBlocks: Spec = {
  each: {
    by: 'type',
    cases: {
      text: { keys: { text: true } },
      image: { keys: { source: { keys: { type: true, media_type: true, data: true, url: true } } } },
      tool_use: { keys: { id: true, name: true, input: true } },
      tool_result: { keys: { tool_use_id: true, is_error: true, content: textOnly } },
    },
  },
};

/** What anthropic-messages/request.ts maps. Thinking, documents, server tools and citations are not. */
const anthropicSpec: Obj = {
  ignore: NON_ANSWER,
  keys: {
    model: true,
    max_tokens: true,
    system: textOnly,
    stop_sequences: true,
    temperature: true,
    top_p: true,
    top_k: true,
    tool_choice: { keys: { type: true, name: true, disable_parallel_tool_use: true } },
    tools: { each: { keys: { type: true, name: true, description: true, input_schema: true }, dropped: (t) => t.input_schema === undefined } },
    messages: { each: { keys: { role: true, content: anthropicBlocks } } },
  },
};

const responsesParts: Spec = {
  each: {
    by: 'type',
    cases: { input_text: { keys: { text: true } }, output_text: { keys: { text: true } }, refusal: { keys: { refusal: true } }, input_image: { keys: { image_url: true } } },
  },
};
const responsesMessage: Obj = { keys: { type: true, role: true, content: responsesParts } };

/**
 * What openai-responses/request.ts maps. Item ids and statuses, annotations, image `detail`,
 * a tool's `strict`, reasoning items, previous_response_id and hosted tools are not (the last
 * two also make a translated target refuse the request).
 */
const responsesSpec: Obj = {
  ignore: NON_ANSWER,
  keys: {
    model: true,
    instructions: true,
    max_output_tokens: true,
    temperature: true,
    top_p: true,
    parallel_tool_calls: true,
    tool_choice: { keys: { type: true, name: true } },
    text: { keys: { format: true } },
    tools: { each: { by: 'type', cases: { function: { keys: { name: true, description: true, parameters: true } } } } },
    input: {
      each: {
        by: 'type',
        cases: {
          message: responsesMessage,
          function_call: { keys: { call_id: true, name: true, arguments: true } },
          function_call_output: { keys: { call_id: true, output: responsesParts } },
        },
      },
    },
  },
};

/** A Responses input item without `type` is a message: walk it as one. */
function typedInput(body: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(body.input)) return body;
  return extend(body, { input: body.input.map((it: unknown) => (isRecord(it) && it.type === undefined ? extend(it, { type: 'message' }) : it)) });
}

const SPECS: Readonly<Record<ChatRequest['original']['format'], { spec: Obj; prepare?: (b: Record<string, unknown>) => Record<string, unknown> }>> = {
  'openai-chat': { spec: openaiSpec },
  'anthropic-messages': { spec: anthropicSpec },
  'openai-responses': { spec: responsesSpec, prepare: typedInput },
};

/**
 * OpenAI system and developer messages anywhere in the list become one canonical system prompt,
 * but a same-format target sees them where they were. Only the usual layout (system messages
 * first) is implied by the canonical form; any other is residue.
 */
function openaiSystemLayout(list: unknown): unknown {
  const messages = Array.isArray(list) ? (list as unknown[]) : [];
  const layout: { i: number; role: string }[] = [];
  let leading = true;
  let usual = true;
  messages.forEach((m, i) => {
    const role = isRecord(m) ? m.role : undefined;
    if (role === 'system' || role === 'developer') {
      layout.push({ i, role });
      if (!leading || role === 'developer') usual = false;
    } else leading = false;
  });
  return usual ? undefined : layout;
}

/**
 * The residue of `req.original.body`, tagged with its format (a field means something only to a
 * target of the caller's own format; translated, it is dropped), or undefined when there is none.
 */
export function residue(req: ChatRequest): unknown {
  const { format, body } = req.original;
  if (!isRecord(body)) return undefined;
  const { spec, prepare } = SPECS[format];
  const fields = walk(prepare === undefined ? body : prepare(body), spec);
  // Responses input items have the same roles, and the same layout question.
  const layout = format === 'openai-chat' ? openaiSystemLayout(body.messages) : format === 'openai-responses' ? openaiSystemLayout(body.input) : undefined;
  if (fields === undefined && layout === undefined) return undefined;
  return { format, fields, layout };
}
