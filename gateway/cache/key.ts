import { sha256Hex } from '../../config/secret.js';
import type { ChatRequest, Message, Part } from '../formats/canonical.js';
import { canonicalJson } from './canonical-json.js';
import { residue } from './residue.js';

/**
 * Response-cache keys (issue 16): a hash of the request as it will be answered.
 *
 * In the key: the route and the namespace (so one tenant never reads another's entry), and every
 * canonical field that reaches the model: system, messages (every part; images by their source),
 * tools, tool choice, parallel tool calls, response format, sampling (temperature, top_p, top_k,
 * seed, stop, n, and max tokens: a lower limit truncates the answer) and Keel's own prefill (a
 * continuation is another answer). `user` only when the route keys on it: providers do not answer
 * differently per user, but a route may want per-user entries. The namespace (`key:…`, `team:…`
 * or `shared`, from the route's config) is the caller's to choose; the key only guarantees that
 * two namespaces never share an entry.
 *
 * Not in the key: `stream` and `streamUsage` (an entry holds the whole answer and is replayed in
 * either mode), and the ingress format (an entry is served in either format). The caller's body
 * does reach a same-format target untouched, so its unmodelled fields are keyed as a residue
 * (residue.ts). Consequence: a request hits an entry stored through the other format only when
 * neither carries unmodelled fields, which is the common case (system + messages + sampling).
 *
 * A few equal-answer spellings are made one: n absent is n = 1, an empty stop or tool list is
 * none, parallel tool calls true is the default and false only matters when there are tools
 * (the formats' builders send it only then).
 */

export interface KeyOptions {
  route: string;
  namespace: string;
  includeUser: boolean;
}

/** Bumped when the key's content changes, so old entries in Redis are never read with new meaning. */
const KEY_VERSION = 1;


/** Tools as the model sees them; parameters are canonicalised with the rest (sorted keys). */
function toolsOf(req: ChatRequest): unknown {
  if (req.tools === undefined || req.tools.length === 0) return undefined;
  return req.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }));
}

/** Everything but the conversation: how the request is to be answered. */
function answerShape(req: ChatRequest): Record<string, unknown> {
  const tools = toolsOf(req);
  return {
    tools,
    toolChoice: req.toolChoice,
    parallelToolCalls: tools !== undefined && req.parallelToolCalls === false ? false : undefined,
    responseFormat: req.responseFormat,
    temperature: req.temperature,
    topP: req.topP,
    topK: req.topK,
    stop: req.stop === undefined || req.stop.length === 0 ? undefined : req.stop,
    n: req.n ?? 1,
    seed: req.seed,
    maxTokens: req.maxTokens,
    prefill: req.prefill,
    residue: residue(req),
  };
}

/**
 * Tool-call arguments by their JSON value, keys sorted: Anthropic carries them as an object and
 * the parser prints it in whatever key order the caller sent, OpenAI as text in the model's own
 * spacing. Neither order nor spacing changes what the call said. Text that is not JSON stays text.
 */
function argumentsOf(text: string): unknown {
  try {
    return { json: JSON.parse(text) as unknown };
  } catch {
    return { text };
  }
}

/** Messages field by field, so a Part gaining a non-answer field later does not silently enter the key. */
function partOf(p: Part): unknown {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image':
      return { type: 'image', source: p.source };
    case 'tool_call':
      return { type: 'tool_call', id: p.id, name: p.name, arguments: argumentsOf(p.arguments) };
    case 'tool_result':
      return { type: 'tool_result', toolCallId: p.toolCallId, content: p.content, isError: p.isError === true ? true : undefined };
  }
}

const messagesOf = (messages: Message[]): unknown => messages.map((m) => ({ role: m.role, content: m.content.map(partOf) }));

/** The cache key: 64 hex digits of SHA-256 over the canonical text of the request as answered. */
export function cacheKey(req: ChatRequest, o: KeyOptions): string {
  return sha256Hex(
    canonicalJson({
      v: KEY_VERSION,
      route: o.route,
      namespace: o.namespace,
      system: req.system,
      messages: messagesOf(req.messages),
      ...answerShape(req),
      user: o.includeUser ? req.user : undefined,
    }),
  );
}

/**
 * The semantic cache's compatibility class: two requests may share an answer by similarity only
 * when everything but the wording of the conversation is equal (tools, tool choice, response
 * format, n, sampling, unmodelled fields), so a semantic hit never crosses tool sets or output
 * formats. Images are not in the embedded text, so their sources are here: two questions about
 * different images never match. Route and namespace are the semantic index's own scope.
 */
export function toolsSignature(req: ChatRequest): string {
  const images = req.messages.flatMap((m) => m.content.flatMap((p) => (p.type === 'image' ? [p.source] : [])));
  return sha256Hex(canonicalJson({ v: KEY_VERSION, ...answerShape(req), images }));
}

function partText(p: Part): string {
  switch (p.type) {
    case 'text':
      return p.text;
    case 'image':
      return '[image]';
    case 'tool_call':
      return `[call ${p.name}] ${p.arguments}`;
    case 'tool_result':
      return `[result] ${p.content}`;
  }
}

/**
 * The text the semantic cache embeds: the system prompt and the last `lastN` messages, one per
 * line, by role. Earlier turns are left out on purpose: an embedding of a long conversation is
 * dominated by its start, and the question being asked is at its end.
 */
export function textForEmbedding(req: ChatRequest, lastN: number): string {
  const n = lastN === Infinity ? req.messages.length : Number.isFinite(lastN) ? Math.max(0, Math.floor(lastN)) : 0;
  const lines = req.system === undefined || req.system === '' ? [] : [`system: ${req.system}`];
  const recent = n === 0 ? [] : req.messages.slice(-n);
  for (const m of recent) lines.push(`${m.role}: ${m.content.map(partText).join('\n')}`);
  return lines.join('\n');
}
