import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import type { ChatRequest, ChatResponse, StreamEvent } from '../formats/canonical.js';
import type { CallContext, CallResult, Outbound } from '../pipeline/context.js';
import type { CacheInfo, CompletedRequest } from '../pipeline/record.js';
import { ClientSink } from '../relay/sink.js';
import type { CacheLookup } from './store.js';
import { replayEvents } from './replay.js';
import { extend } from '../objects.js';

/**
 * A stored answer sent to the caller, in its format, streaming or not, through the answer
 * filters of the stages before the cache (guardrails out still see what goes out). The record
 * says what the caller got (model, finish, time to first token) and that no provider was paid:
 * no usage, so no cost, no TPM; the entry's cost is what the hit saved.
 */
export interface Hit {
  found: CacheLookup;
  status: Extract<CacheInfo['status'], 'exact' | 'semantic' | 'stale'>;
  similarity?: number;
  lookupMs: number;
  /** The semantic lookup's embedding call. */
  embedding?: Pick<CacheInfo, 'embeddingMs' | 'embeddingCostUsd'>;
}

export function hitHeaders(ctx: CallContext, route: string, hit: Hit): Record<string, string> {
  const status = hit.status === 'semantic' && hit.similarity !== undefined ? `semantic;similarity=${hit.similarity.toFixed(3)}` : hit.status;
  // Age (RFC 9111 §5.1) in whole seconds; x-keel-cache says which kind of hit.
  return extend(ctx.baseHeaders, { 'x-keel-route': route, 'x-keel-cache': status, age: String(Math.floor(hit.found.ageMs / 1000)) });
}

export async function serveHit(ctx: CallContext, req: ChatRequest, route: string, rec: CompletedRequest, hit: Hit, outbound: Outbound | undefined): Promise<CallResult> {
  // Each hit is its own response: a fresh id, the stored model, the stored answer.
  const res: ChatResponse = extend(hit.found.entry.response, { id: `${hit.found.entry.response.id.slice(0, 24)}-${randomUUID().slice(0, 8)}` });
  rec.cache = { status: hit.status, lookupMs: hit.lookupMs, ageS: hit.found.ageMs / 1000, ...hit.embedding, ...(hit.similarity === undefined ? {} : { similarity: hit.similarity }), ...(hit.found.entry.costUsd === undefined ? {} : { savedUsd: hit.found.entry.costUsd }) };
  rec.responseModel = res.model;
  rec.finishReason = res.choices[0]?.finishReason;
  const headers = hitHeaders(ctx, route, hit);
  if (!req.stream) {
    const shown = outbound === undefined ? res : outbound.answer(res);
    return { kind: 'json', headers: extend(headers, { 'content-type': 'application/json' }), body: JSON.stringify(ctx.ingress.renderResponse(shown)) };
  }
  await replay(ctx, req, rec, res, headers, outbound);
  return { kind: 'streamed' };
}

/** The whole replay in one write: it is all known, and one write is the fastest first token. */
async function replay(ctx: CallContext, req: ChatRequest, rec: CompletedRequest, res: ChatResponse, headers: Record<string, string>, outbound: Outbound | undefined): Promise<void> {
  const sink = new ClientSink(ctx.res, () => headers, ctx.hijack, { writeTimeoutMs: ctx.runtime.config.server.write_timeout_ms, onStall: (err) => ctx.clientGone.abort(err) });
  const encoder = ctx.ingress.createStreamEncoder(req);
  let events: StreamEvent[] = replayEvents(res);
  const filter = outbound?.stream();
  if (filter !== undefined) {
    const body = events.filter((e) => e.type !== 'end');
    const a = filter.push(body);
    const b = a.blocked === undefined ? filter.end() : { events: [], blocked: a.blocked };
    events = [...a.events, ...b.events];
    if (b.blocked !== undefined) {
      rec.errorCode = b.blocked.code;
      rec.errorClass = b.blocked.errorClass;
      sink.end(events.map((e) => encoder.encode(e)).join('') + encoder.error(b.blocked));
      return;
    }
    events.push({ type: 'end' });
  }
  const text = events.map((e) => encoder.encode(e)).join('');
  rec.ttftMs = performance.now() - ctx.receivedAt;
  await sink.write(text);
  sink.end();
}
