import { performance } from 'node:perf_hooks';
import type { RouteCacheConfig, SemanticCacheConfig } from '../../config/cache-schema.js';
import { ResponseAccumulator } from '../cache/accumulate.js';
import { cacheControl, type CacheControl } from '../cache/control.js';
import type { CacheEntry } from '../cache/entry.js';
import { embedThrough } from '../cache/embed.js';
import { cacheKey, textForEmbedding, toolsSignature } from '../cache/key.js';
import { cacheStoreFor, semanticFor } from '../cache/registry.js';
import { serveHit, type Hit } from '../cache/serve.js';
import type { CacheLookup, CacheStore } from '../cache/store.js';
import { KeelError } from '../errors.js';
import type { ChatResponse } from '../formats/canonical.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ClientIdentity } from '../runtime/resolve.js';
import { requestCost } from '../telemetry/attributes.js';
import type { StageAfter, StageFactory, StageRequest } from './types.js';
import { extend } from '../objects.js';

/**
 * The response cache as a stage (issue 16), innermost: after auth, quota and guardrails, so a
 * hit is still a request of its key (counted, its guardrails applied) and the key is computed on
 * the request as it will be answered (after redaction). A fresh entry answers in `serve` and
 * the attempt loop never runs; a miss captures the answer on its way out and stores it in
 * `post` when it is whole and clean; when every target fails, an entry inside its stale window
 * answers in `rescue`. Fail-open: a cache that cannot look up is a miss, never a failure.
 */
export const cacheStage: StageFactory = (runtime, route) => {
  const cfg = runtime.config.routes[route.name]?.cache;
  if (cfg === undefined) return undefined;
  const staleMs = cfg.stale_if_error_s * 1000;
  return {
    name: 'cache',
    policy: 'fail-open',
    chatOnly: true,
    pre: async (sr) => {
      const { call, rec } = sr;
      const ctl = cacheControl(call.requestHeaders ?? {}, cfg.ttl_s);
      if (ctl.bypass) {
        rec.cache = { status: 'bypass' };
        call.baseHeaders['x-keel-cache'] = 'bypass';
        return undefined;
      }
      const store = cacheStoreFor(call.routing.state, call.runtime.config.cache, call.routing.log);
      const namespace = namespaceOf(cfg, call.client, ctl.namespace);
      const key = cacheKey(sr.req, { route: route.name, namespace, includeUser: cfg.include_user });
      const t0 = performance.now();
      const found = ctl.lookup ? await store.lookup(key, staleMs) : undefined;
      if (found?.fresh === true) return { serve: (out) => serveHit(call, sr.req, route.name, rec, { found, status: 'exact', lookupMs: performance.now() - t0 }, out) };
      const sem = cfg.semantic === undefined ? undefined : await semanticLookup(sr, cfg.semantic, store, namespace, ctl.lookup, staleMs);
      const lookupMs = performance.now() - t0;
      const near = sem?.hit;
      if (near !== undefined) return { serve: (out) => serveHit(call, sr.req, route.name, rec, extend(near, { lookupMs }), out) };
      if (ctl.onlyIfCached) throw new KeelError('KEEL_CACHE_MISS', `nothing cached answers this request on \`${route.name}\`, and x-keel-cache: only-if-cached forbids asking a provider.`);
      rec.cache = { status: 'miss', lookupMs, ...embeddingInfo(sem) };
      call.baseHeaders['x-keel-cache'] = 'miss';
      return missAfter(sr, { cfg, ctl, store, key, staleMs, stale: found, lookupMs, semantic: sem?.vector === undefined ? undefined : { partition: sem.partition, vector: sem.vector } });
    },
  };
};

interface Semantic {
  /** Route, namespace and tool set: a semantic match never crosses any of them. */
  partition: string;
  hit: Omit<Hit, 'lookupMs'> | undefined;
  vector: Float32Array | undefined;
  embeddingMs: number | undefined;
  embeddingCostUsd: number | undefined;
}

/**
 * The request's text embedded through the configured embeddings route and looked up in its
 * partition; the vector is kept for storing this answer when it misses. No embedding (the
 * route failed, the key may not call it): no semantic lookup, the request goes on uncached.
 */
async function semanticLookup(sr: StageRequest, cfg: SemanticCacheConfig, store: CacheStore, namespace: string, lookup: boolean, staleMs: number): Promise<Semantic | undefined> {
  const run = sr.call.routing.embed;
  if (run === undefined) return undefined;
  const emb = await embedThrough(run, sr.call, cfg.embeddings_route, textForEmbedding(sr.req, cfg.last_messages), cfg.dimensions);
  if (emb === undefined) return undefined;
  const partition = `${sr.route.name}|${namespace}|${toolsSignature(sr.req)}`;
  const out: Semantic = { partition, hit: undefined, vector: emb.vector, embeddingMs: emb.ms, embeddingCostUsd: emb.costUsd };
  if (!lookup) return out;
  const near = await semanticFor(sr.call.routing.state, sr.call.runtime.config.cache).find(partition, emb.vector, cfg.similarity);
  const found = near === undefined ? undefined : await store.lookup(near.key, staleMs);
  if (near !== undefined && found?.fresh === true) out.hit = { found, status: 'semantic', similarity: near.similarity, embedding: embeddingInfo(out) };
  return out;
}

function embeddingInfo(sem: Semantic | undefined): { embeddingMs?: number; embeddingCostUsd?: number } {
  const info: { embeddingMs?: number; embeddingCostUsd?: number } = {};
  if (sem?.embeddingMs !== undefined) info.embeddingMs = sem.embeddingMs;
  if (sem?.embeddingCostUsd !== undefined) info.embeddingCostUsd = sem.embeddingCostUsd;
  return info;
}

interface Miss {
  cfg: RouteCacheConfig;
  ctl: CacheControl;
  store: CacheStore;
  key: string;
  staleMs: number;
  /** An entry past its ttl, inside its stale window: the rescue when every target fails. */
  stale: CacheLookup | undefined;
  lookupMs: number;
  /** The request's embedding and its partition, when the route has a semantic cache: indexed with the answer. */
  semantic: { partition: string; vector: Float32Array } | undefined;
}

/** Who shares entries: the key, its team (a key without one: itself), or everyone; a caller's sub-namespace only inside that. */
function namespaceOf(cfg: RouteCacheConfig, client: ClientIdentity | undefined, sub: string | undefined): string {
  const own = client === undefined ? 'anonymous' : `key:${client.id}`;
  const base = cfg.namespace === 'shared' ? 'shared' : cfg.namespace === 'key' ? own : client?.team === undefined ? own : `team:${client.team}`;
  return sub === undefined ? base : `${base}/${sub}`;
}

function missAfter(sr: StageRequest, m: Miss): StageAfter {
  let answer: ChatResponse | undefined;
  let streamed: ResponseAccumulator | undefined;
  return {
    answer: (res) => {
      answer = res;
      return res;
    },
    stream: () => {
      const acc = new ResponseAccumulator();
      streamed = acc;
      return {
        push: (events) => {
          acc.pushAll(events);
          return { events };
        },
        end: () => {
          acc.push({ type: 'end' });
          return { events: [] };
        },
      };
    },
    rescue: async (_error, out) => {
      if (m.stale === undefined || sr.call.res.headersSent) return undefined;
      // A rescue: the request was answered although no provider could (counted with fallbacks in the SLIs).
      sr.rec.fallbacks++;
      return serveHit(sr.call, sr.req, sr.route.name, sr.rec, { found: m.stale, status: 'stale', lookupMs: m.lookupMs }, out);
    },
    post: (outcome) => {
      if (!outcome.ok || !m.ctl.store) return;
      const res = answer ?? (streamed?.complete === true ? streamed.response() : undefined);
      if (res === undefined || !storable(sr.rec, res)) return;
      const cost = requestCost(sr.rec);
      const entry: CacheEntry = { v: 1, response: res, provider: sr.rec.provider ?? '', storedAtMs: Date.now(), ttlMs: (m.ctl.ttlS ?? m.cfg.ttl_s) * 1000, ...(cost === undefined ? {} : { costUsd: cost }) };
      if (!m.store.put(m.key, entry, m.staleMs)) return;
      if (sr.rec.cache !== undefined) sr.rec.cache.stored = true;
      if (m.semantic !== undefined) semanticFor(sr.call.routing.state, sr.call.runtime.config.cache).add(m.semantic.partition, m.key, m.semantic.vector, entry.ttlMs);
    },
  };
}

/**
 * Only whole, clean answers are kept (issue 16 §3): not a broken, cut or continued stream, not
 * one a content filter stopped, not one a guardrail blocked or redacted (the next caller's
 * guardrails would never see what the provider said), not a stale rescue.
 */
function storable(rec: CompletedRequest, res: ChatResponse): boolean {
  if (rec.errorCode !== undefined || rec.streamTruncated || rec.continued || rec.cache?.status !== 'miss') return false;
  if (res.choices.length === 0 || res.choices.some((c) => c.finishReason === 'content_filter' || c.finishReason === 'error')) return false;
  return !rec.guardrails.some((v) => v.action !== 'log');
}
