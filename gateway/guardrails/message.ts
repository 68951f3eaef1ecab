import type { ChatRequest, ChatResponse, Message, Part } from '../formats/canonical.js';
import { Tally } from './scan.js';
import type { Blocked, CompiledRule, Finding } from './types.js';
import { extend } from '../objects.js';

/**
 * Guardrails over whole requests and answers. A redacted request keeps its shape, and so
 * does its `original.body`: the pipeline forwards the caller's raw JSON when ingress and
 * target formats match, so a redaction only in the canonical form would not reach the wire.
 * Nothing changed, nothing copied: the same object comes back, and callers can compare.
 */

/**
 * Tool-call arguments are JSON text: scanned value by value when they parse, so a match is
 * judged on the string the model meant (no `\n` escape glued to a key) and the redacted
 * arguments stay valid JSON; as plain text when they do not.
 */
function scanJsonText(tally: Tally, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return tally.scan(text);
  }
  if (typeof parsed !== 'object' || parsed === null) return tally.scan(text);
  const out = walk(tally, parsed, 0, false);
  return out === parsed ? text : JSON.stringify(out);
}

function scanPart(tally: Tally, part: Part): Part {
  switch (part.type) {
    case 'text': {
      const text = tally.scan(part.text);
      return text === part.text ? part : extend(part, { text });
    }
    case 'tool_call': {
      const args = scanJsonText(tally, part.arguments);
      return args === part.arguments ? part : extend(part, { arguments: args });
    }
    case 'tool_result': {
      const content = tally.scan(part.content);
      return content === part.content ? part : extend(part, { content });
    }
    case 'image':
      return part;
  }
}

function scanParts(tally: Tally, parts: Part[]): Part[] {
  const out = parts.map((p) => scanPart(tally, p));
  return out.every((p, i) => p === parts[i]) ? parts : out;
}

/** Deeper than this, a raw body is not walked: neither ingress format nests so deep. */
export const BODY_DEPTH_MAX = 64;

/**
 * Every string value under `value`, redacted; keys untouched. Skipped: `model` at the top (a
 * route name, not content) and inline binary (data: URLs, `{type: 'base64', data}` sources):
 * megabytes of base64 would cost milliseconds to scan and could only yield false positives.
 * A string holding JSON (tool-call arguments) is scanned value by value, as in the canonical form.
 */
function walk(tally: Tally, value: unknown, depth: number, top: boolean): unknown {
  if (typeof value === 'string') return value.startsWith('data:') ? value : value.startsWith('{') || value.startsWith('[') ? scanJsonText(tally, value) : tally.scan(value);
  if (typeof value !== 'object' || value === null || depth > BODY_DEPTH_MAX) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = value.map((v: unknown) => walk(tally, v, depth + 1, false));
    return out.every((v, i) => v === value[i]) ? value : out;
  }
  const binary = (value as Record<string, unknown>).type === 'base64';
  let changed: Record<string, unknown> | undefined;
  // Object.keys, not Object.entries: no [key, value] array per field of every object of the body (bench:alloc, issue 18).
  for (const k of Object.keys(value)) {
    if ((top && k === 'model') || (binary && k === 'data')) continue;
    const v = (value as Record<string, unknown>)[k];
    const w = walk(tally, v, depth + 1, false);
    if (w === v) continue;
    // defineProperty, not assignment: a `__proto__` key in a caller's JSON stays a plain key.
    changed ??= { ...value };
    Object.defineProperty(changed, k, { value: w, enumerable: true, writable: true, configurable: true });
  }
  return changed ?? value;
}

export function guardRequest(rules: readonly CompiledRule[], req: ChatRequest): { req: ChatRequest; findings: Finding[]; blocked: Blocked | undefined } {
  if (rules.length === 0) return { req, findings: [], blocked: undefined };
  const tally = new Tally(rules);
  const system = req.system === undefined ? undefined : tally.scan(req.system);
  const messages = req.messages.map((m): Message => {
    const content = scanParts(tally, m.content);
    return content === m.content ? m : extend(m, { content });
  });
  // The raw body is the same request seen again: its findings are merged (max per rule and
  // detector), not added, and it may add matches in fields the canonical form does not carry.
  const bodyTally = new Tally(rules);
  const body = walk(bodyTally, req.original.body, 0, true) as Record<string, unknown>;
  tally.merge(bodyTally);
  const same = system === req.system && messages.every((m, i) => m === req.messages[i]) && body === req.original.body;
  const out: ChatRequest = same ? req : extend(req, { system, messages, original: extend(req.original, { body }) });
  return { req: out, findings: tally.findings(), blocked: tally.blocked };
}

export function guardResponse(rules: readonly CompiledRule[], res: ChatResponse): { res: ChatResponse; findings: Finding[]; blocked: Blocked | undefined } {
  if (rules.length === 0) return { res, findings: [], blocked: undefined };
  const tally = new Tally(rules);
  const choices = res.choices.map((c) => {
    const content = scanParts(tally, c.content);
    return content === c.content ? c : extend(c, { content });
  });
  const same = choices.every((c, i) => c === res.choices[i]);
  return { res: same ? res : extend(res, { choices }), findings: tally.findings(), blocked: tally.blocked };
}
