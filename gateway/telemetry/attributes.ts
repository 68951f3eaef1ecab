import type { AttributeValue, Attributes } from '@opentelemetry/api';
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

/**
 * Where a span's attributes go, one at a time, in the span's order: an object (requestAttributes,
 * for the SDK's tracer) or the OTLP writer itself (request-spans.ts: no attribute object at all).
 * Every key is written once per span: the names below are fixed and distinct, key metadata
 * adds only `keel.key.meta.*`, content only the content names.
 */
export type AttributeSink = (key: string, value: AttributeValue) => void;

/**
 * The attributes that have a value, every string cut to IDENTIFIER_CHARS: models, route,
 * request id, key id and provider codes come from callers or providers, unbounded (bounds.ts).
 */
function identifiers(sink: AttributeSink): (key: string, value: AttributeValue | undefined) => void {
  return (key, v) => {
    if (v !== undefined) sink(key, typeof v === 'string' ? clip(v, IDENTIFIER_CHARS) : v);
  };
}

type Put = ReturnType<typeof identifiers>;

function usageAttributes(rec: CompletedRequest, put: Put): void {
  const u = rec.usage;
  if (u === undefined) return;
  put('gen_ai.usage.input_tokens', u.inputTokens);
  put('gen_ai.usage.output_tokens', u.outputTokens);
  put('gen_ai.usage.cache_read.input_tokens', u.cacheReadTokens);
  put('gen_ai.usage.cache_creation.input_tokens', u.cacheWriteTokens);
}

/** Guardrail verdicts on the span: which rules acted and how, how many matches; never what matched. */
function guardrailAttributes(rec: CompletedRequest, put: Put): void {
  if (rec.guardrails.length === 0) return;
  put('keel.guardrail.rules', [...new Set(rec.guardrails.map((v) => v.rule))]);
  put('keel.guardrail.actions', [...new Set(rec.guardrails.map((v) => `${v.direction}:${v.action}`))]);
  put('keel.guardrail.matches', rec.guardrails.reduce((n, v) => n + v.count, 0));
}

/** The key's tags as `keel.key.meta.<name>` (names are checked by the config schema: [a-z0-9_]). */
function keyMetadataAttributes(rec: CompletedRequest, put: Put): void {
  for (const [name, value] of Object.entries(rec.keyMetadata)) put(`keel.key.meta.${name}`, value);
}

/** Collects a visit into an object, in the order of the visit. */
function collect(visit: (sink: AttributeSink) => void): Attributes {
  const out: Attributes = {};
  visit((key, value) => {
    out[key] = value;
  });
  return out;
}

/** The SERVER span: the request as the caller saw it. */
export function requestAttributes(rec: CompletedRequest, genAiProvider: string | undefined): Attributes {
  return collect((sink) => visitRequestAttributes(rec, genAiProvider, sink));
}

export function visitRequestAttributes(rec: CompletedRequest, genAiProvider: string | undefined, sink: AttributeSink): void {
  const put = identifiers(sink);
  const answered = answering(rec);
  put('gen_ai.operation.name', rec.operation);
  put('gen_ai.provider.name', genAiProvider);
  put('gen_ai.request.model', rec.requestModel);
  put('gen_ai.response.model', rec.responseModel ?? answered?.model);
  put('gen_ai.request.stream', rec.stream ? true : undefined);
  put('gen_ai.response.time_to_first_chunk', rec.ttftMs === undefined ? undefined : round(rec.ttftMs / 1000, 6));
  put('gen_ai.response.finish_reasons', rec.finishReason === undefined ? (rec.streamTruncated ? ['error'] : undefined) : [rec.finishReason]);
  usageAttributes(rec, put);
  put('error.type', rec.errorCode === undefined ? undefined : (rec.upstreamCode ?? rec.errorCode));
  put('http.response.status_code', rec.status);
  put('keel.request_id', rec.requestId);
  put('keel.route', rec.route);
  put('keel.ingress', rec.ingressFormat);
  put('keel.provider', rec.provider);
  put('keel.error.code', rec.errorCode);
  put('keel.error.class', rec.errorClass);
  put('keel.attempts', rec.attempts.length);
  put('keel.fallbacks', rec.fallbacks);
  put('keel.retries', rec.retries);
  put('keel.fallback_used', rec.fallbacks > 0);
  put('keel.hedged', rec.hedged);
  put('keel.continued', rec.continued);
  // Routing rules that matched, in order; one that would have left no target as `name:skipped`.
  put('keel.route.rule', rec.routeRules === undefined || rec.routeRules.length === 0 ? undefined : ruleTrail(rec.routeRules));
  put('keel.stream.truncated', rec.stream ? rec.streamTruncated : undefined);
  put('keel.stream.end_synthesized', rec.endSynthesized ? true : undefined);
  put('keel.stream.malformed_chunks', rec.malformedChunks > 0 ? rec.malformedChunks : undefined);
  streamAttributes(rec, put);
  const cost = requestCost(rec);
  put('keel.cost_usd', cost === undefined ? undefined : round(cost, 9));
  cacheAttributes(rec, put);
  put('keel.key_id', rec.clientId);
  put('keel.team', rec.team);
  put('keel.customer', rec.customer);
  keyMetadataAttributes(rec, put);
  guardrailAttributes(rec, put);
  put('keel.weights_version', rec.weightsVersion);
  put('keel.config_version', rec.configVersion);
  contentAttributes(rec, sink);
}

function streamAttributes(rec: CompletedRequest, put: Put): void {
  const itl = itlStats(rec.interTokenMs);
  if (itl === undefined) return;
  put('keel.itl.mean_ms', round(itl.mean));
  put('keel.itl.p50_ms', round(itl.p50));
  put('keel.itl.p95_ms', round(itl.p95));
  put('keel.itl.max_ms', round(itl.max));
  put('keel.itl.count', itl.count);
}

function cacheAttributes(rec: CompletedRequest, put: Put): void {
  const c = rec.cache;
  // 'none': the route has no cache (the hit-ratio panel counts only routes that have one).
  put('keel.cache.status', c?.status ?? 'none');
  if (c === undefined) return;
  put('keel.cache.similarity', c.similarity === undefined ? undefined : round(c.similarity, 4));
  put('keel.cache.lookup_ms', c.lookupMs === undefined ? undefined : round(c.lookupMs));
  put('keel.cache.age_s', c.ageS === undefined ? undefined : round(c.ageS));
  put('keel.cache.saved_usd', c.savedUsd === undefined ? undefined : round(c.savedUsd, 9));
  put('keel.cache.stored', c.stored === true ? true : undefined);
  put('keel.cache.embedding_ms', c.embeddingMs === undefined ? undefined : round(c.embeddingMs));
  put('keel.cache.embedding_cost_usd', c.embeddingCostUsd === undefined ? undefined : round(c.embeddingCostUsd, 9));
}

/**
 * Opt-in content as JSON strings (the exporter stores attribute values as text anyway), each
 * at most CONTENT_CHARS and still valid JSON; `keel.content.truncated` says when any was cut.
 * Not cut to IDENTIFIER_CHARS: boundedJson bounds them, and a cut would break the JSON.
 */
function contentAttributes(rec: CompletedRequest, sink: AttributeSink): void {
  const c = rec.content;
  if (c === undefined) return;
  let truncated = false;
  const put = (key: string, items: unknown[] | undefined) => {
    if (items === undefined) return;
    const b = boundedJson(items, CONTENT_CHARS);
    sink(key, b.json);
    truncated ||= b.truncated;
  };
  put('gen_ai.input.messages', c.input);
  put('gen_ai.system_instructions', c.system);
  put('gen_ai.output.messages', c.output);
  if (truncated) sink('keel.content.truncated', true);
}

/** One CLIENT span per upstream attempt. Usage and cost go only on the attempt that answered. */
export function attemptAttributes(rec: CompletedRequest, a: AttemptInfo, index: number): Attributes {
  return collect((sink) => visitAttemptAttributes(rec, a, index, sink));
}

export function visitAttemptAttributes(rec: CompletedRequest, a: AttemptInfo, index: number, sink: AttributeSink): void {
  const put = identifiers(sink);
  const isAnswer = a === answering(rec);
  put('gen_ai.operation.name', rec.operation);
  put('gen_ai.provider.name', a.genAiProvider);
  put('gen_ai.request.model', a.model);
  put('gen_ai.response.model', isAnswer ? rec.responseModel : undefined);
  put('gen_ai.request.stream', rec.stream ? true : undefined);
  put('gen_ai.response.time_to_first_chunk', a.ttftMs === undefined ? undefined : round(a.ttftMs / 1000, 6));
  if (isAnswer) usageAttributes(rec, put);
  put('server.address', a.serverAddress);
  put('server.port', a.serverPort);
  put('error.type', a.ok ? undefined : (a.upstreamCode ?? a.errorCode ?? '_OTHER'));
  put('keel.request_id', rec.requestId);
  put('keel.route', rec.route);
  put('keel.provider', a.provider);
  put('keel.attempt.index', index);
  put('keel.attempt.reason', a.reason);
  // The same class under its older name, which llm_attempts.failure_class reads.
  put('keel.failure_class', a.errorClass);
  put('keel.error.class', a.errorClass);
  const cost = isAnswer ? requestCost(rec) : undefined;
  put('keel.cost_usd', cost === undefined ? undefined : round(cost, 9));
  // Who asked, on every span of the request (ids only), so an attempt's span is attributable on its own.
  put('keel.key_id', rec.clientId);
  put('keel.team', rec.team);
  put('keel.customer', rec.customer);
}
