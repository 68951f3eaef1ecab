import type { Attributes } from '@opentelemetry/api';
import { costUsd } from '../runtime/prices.js';
import type { AttemptInfo, CompletedRequest } from '../pipeline/record.js';
import { boundedJson, clip, CONTENT_CHARS, IDENTIFIER_CHARS } from './bounds.js';
import { ruleTrail } from '../routing/rules.js';

/**
 * CompletedRequest → span attributes: OTel GenAI v1.41.0 names where a convention
 * exists (standards.md §1.2), `keel.*` for the rest. Pure: the README's attribute
 * table documents exactly what this file writes.
 */

export interface ItlStats {
  mean: number;
  p50: number;
  p95: number;
  max: number;
  count: number;
}

export function itlStats(gaps: readonly number[]): ItlStats | undefined {
  if (gaps.length === 0) return undefined;
  const sorted = [...gaps].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { mean: sorted.reduce((a, b) => a + b, 0) / sorted.length, p50: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] ?? 0, count: sorted.length };
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The attempt that answered (its usage and price are the request's). */
export function answering(rec: CompletedRequest): AttemptInfo | undefined {
  for (let i = rec.attempts.length - 1; i >= 0; i--) if (rec.attempts[i]?.ok === true) return rec.attempts[i];
  return undefined;
}

export function requestCost(rec: CompletedRequest): number | undefined {
  const a = answering(rec);
  return rec.usage === undefined || a?.price === undefined ? undefined : costUsd(rec.usage, a.price);
}

function usageAttributes(rec: CompletedRequest): Attributes {
  const u = rec.usage;
  if (u === undefined) return {};
  return {
    'gen_ai.usage.input_tokens': u.inputTokens,
    'gen_ai.usage.output_tokens': u.outputTokens,
    ...(u.cacheReadTokens === undefined ? {} : { 'gen_ai.usage.cache_read.input_tokens': u.cacheReadTokens }),
    ...(u.cacheWriteTokens === undefined ? {} : { 'gen_ai.usage.cache_creation.input_tokens': u.cacheWriteTokens }),
  };
}

/**
 * The attributes that have a value, every string cut to IDENTIFIER_CHARS: models, route,
 * request id, key id and provider codes come from callers or providers, unbounded (bounds.ts).
 */
function defined(attrs: Record<string, Attributes[string] | undefined>): Attributes {
  const out: Attributes = {};
  // Object.keys: Object.entries' order without an array per pair.
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    if (v !== undefined) out[k] = typeof v === 'string' ? clip(v, IDENTIFIER_CHARS) : v;
  }
  return out;
}

/** Guardrail verdicts on the span: which rules acted and how, how many matches; never what matched. */
function guardrailAttributes(rec: CompletedRequest): Attributes {
  if (rec.guardrails.length === 0) return {};
  return {
    'keel.guardrail.rules': [...new Set(rec.guardrails.map((v) => v.rule))],
    'keel.guardrail.actions': [...new Set(rec.guardrails.map((v) => `${v.direction}:${v.action}`))],
    'keel.guardrail.matches': rec.guardrails.reduce((n, v) => n + v.count, 0),
  };
}

/** The key's tags as `keel.key.meta.<name>` (names are checked by the config schema: [a-z0-9_]). */
function keyMetadataAttributes(rec: CompletedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(rec.keyMetadata)) out[`keel.key.meta.${name}`] = value;
  return out;
}

/** The SERVER span: the request as the caller saw it. */
export function requestAttributes(rec: CompletedRequest, genAiProvider: string | undefined): Attributes {
  const itl = itlStats(rec.interTokenMs);
  const cost = requestCost(rec);
  const answered = answering(rec);
  const attrs = defined({
    'gen_ai.operation.name': rec.operation,
    'gen_ai.provider.name': genAiProvider,
    'gen_ai.request.model': rec.requestModel,
    'gen_ai.response.model': rec.responseModel ?? answered?.model,
    'gen_ai.request.stream': rec.stream ? true : undefined,
    'gen_ai.response.time_to_first_chunk': rec.ttftMs === undefined ? undefined : round(rec.ttftMs / 1000, 6),
    'gen_ai.response.finish_reasons': rec.finishReason === undefined ? (rec.streamTruncated ? ['error'] : undefined) : [rec.finishReason],
    ...usageAttributes(rec),
    'error.type': rec.errorCode === undefined ? undefined : (rec.upstreamCode ?? rec.errorCode),
    'http.response.status_code': rec.status,
    'keel.request_id': rec.requestId,
    'keel.route': rec.route,
    'keel.ingress': rec.ingressFormat,
    'keel.provider': rec.provider,
    'keel.error.code': rec.errorCode,
    'keel.error.class': rec.errorClass,
    'keel.attempts': rec.attempts.length,
    'keel.fallbacks': rec.fallbacks,
    'keel.retries': rec.retries,
    'keel.fallback_used': rec.fallbacks > 0,
    'keel.hedged': rec.hedged,
    'keel.continued': rec.continued,
    // Routing rules that matched, in order; one that would have left no target as `name:skipped`.
    'keel.route.rule': rec.routeRules === undefined || rec.routeRules.length === 0 ? undefined : ruleTrail(rec.routeRules),
    'keel.stream.truncated': rec.stream ? rec.streamTruncated : undefined,
    'keel.stream.end_synthesized': rec.endSynthesized ? true : undefined,
    'keel.stream.malformed_chunks': rec.malformedChunks > 0 ? rec.malformedChunks : undefined,
    'keel.itl.mean_ms': itl === undefined ? undefined : round(itl.mean),
    'keel.itl.p50_ms': itl === undefined ? undefined : round(itl.p50),
    'keel.itl.p95_ms': itl === undefined ? undefined : round(itl.p95),
    'keel.itl.max_ms': itl === undefined ? undefined : round(itl.max),
    'keel.itl.count': itl?.count,
    'keel.cost_usd': cost === undefined ? undefined : round(cost, 9),
    // 'none': the route has no cache (the hit-ratio panel counts only routes that have one).
    'keel.cache.status': rec.cache?.status ?? 'none',
    'keel.cache.similarity': rec.cache?.similarity === undefined ? undefined : round(rec.cache.similarity, 4),
    'keel.cache.lookup_ms': rec.cache?.lookupMs === undefined ? undefined : round(rec.cache.lookupMs),
    'keel.cache.age_s': rec.cache?.ageS === undefined ? undefined : round(rec.cache.ageS),
    'keel.cache.saved_usd': rec.cache?.savedUsd === undefined ? undefined : round(rec.cache.savedUsd, 9),
    'keel.cache.stored': rec.cache?.stored === true ? true : undefined,
    'keel.cache.embedding_ms': rec.cache?.embeddingMs === undefined ? undefined : round(rec.cache.embeddingMs),
    'keel.cache.embedding_cost_usd': rec.cache?.embeddingCostUsd === undefined ? undefined : round(rec.cache.embeddingCostUsd, 9),
    'keel.key_id': rec.clientId,
    'keel.team': rec.team,
    'keel.customer': rec.customer,
    ...keyMetadataAttributes(rec),
    ...guardrailAttributes(rec),
    'keel.weights_version': rec.weightsVersion,
    'keel.config_version': rec.configVersion,
  });
  return { ...attrs, ...contentAttributes(rec) };
}

/**
 * Opt-in content as JSON strings (the exporter stores attribute values as text anyway), each
 * at most CONTENT_CHARS and still valid JSON; `keel.content.truncated` says when any was cut.
 */
function contentAttributes(rec: CompletedRequest): Attributes {
  const c = rec.content;
  if (c === undefined) return {};
  const out: Attributes = {};
  let truncated = false;
  const put = (key: string, items: unknown[] | undefined) => {
    if (items === undefined) return;
    const b = boundedJson(items, CONTENT_CHARS);
    out[key] = b.json;
    truncated ||= b.truncated;
  };
  put('gen_ai.input.messages', c.input);
  put('gen_ai.system_instructions', c.system);
  put('gen_ai.output.messages', c.output);
  if (truncated) out['keel.content.truncated'] = true;
  return out;
}

/** One CLIENT span per upstream attempt. Usage and cost go only on the attempt that answered. */
export function attemptAttributes(rec: CompletedRequest, a: AttemptInfo, index: number): Attributes {
  const isAnswer = a === answering(rec);
  const cost = isAnswer ? requestCost(rec) : undefined;
  return defined({
    'gen_ai.operation.name': rec.operation,
    'gen_ai.provider.name': a.genAiProvider,
    'gen_ai.request.model': a.model,
    'gen_ai.response.model': isAnswer ? rec.responseModel : undefined,
    'gen_ai.request.stream': rec.stream ? true : undefined,
    'gen_ai.response.time_to_first_chunk': a.ttftMs === undefined ? undefined : round(a.ttftMs / 1000, 6),
    ...(isAnswer ? usageAttributes(rec) : {}),
    'server.address': a.serverAddress,
    'server.port': a.serverPort,
    'error.type': a.ok ? undefined : (a.upstreamCode ?? a.errorCode ?? '_OTHER'),
    'keel.request_id': rec.requestId,
    'keel.route': rec.route,
    'keel.provider': a.provider,
    'keel.attempt.index': index,
    'keel.attempt.reason': a.reason,
    // The same class under its older name, which llm_attempts.failure_class reads.
    'keel.failure_class': a.errorClass,
    'keel.error.class': a.errorClass,
    'keel.cost_usd': cost === undefined ? undefined : round(cost, 9),
    // Who asked, on every span of the request (ids only), so an attempt's span is attributable on its own.
    'keel.key_id': rec.clientId,
    'keel.team': rec.team,
    'keel.customer': rec.customer,
  });
}
