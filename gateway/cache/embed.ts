import { performance } from 'node:perf_hooks';
import type { CallContext, CallResult } from '../pipeline/context.js';
import type { CompletedRequest, RequestObserver } from '../pipeline/record.js';
import { requestCost } from '../telemetry/attributes.js';
import { extend } from '../objects.js';

/**
 * The semantic cache's embedding call, through Keel's own embeddings pipeline (issue 16 §2): the
 * configured embeddings route, with its stages, retries and fallbacks, and its own record (so its
 * span, cost and errors are reported like any request's, charged to the same key). Any failure
 * is `undefined`: the request then goes on uncached.
 */
export interface Embedded {
  vector: Float32Array;
  ms: number;
  costUsd: number | undefined;
}

export type RunEmbeddings = (ctx: CallContext, observer?: RequestObserver) => Promise<CallResult>;

export async function embedThrough(run: RunEmbeddings, call: CallContext, route: string, text: string, dimensions?: number): Promise<Embedded | undefined> {
  const started = performance.now();
  const sub: CallContext = extend(call, { requestId: `${call.requestId}-cache-embed`, body: { model: route, input: text, ...(dimensions === undefined ? {} : { dimensions }) }, baseHeaders: {}, hijack: () => undefined, record: undefined, outbound: undefined, requestHeaders: {}, receivedAt: started });
  let rec: CompletedRequest | undefined;
  const result = await run(sub, (r) => {
    rec = r;
    call.routing.observer?.(r);
  }).catch(() => undefined);
  if (result?.kind !== 'json') return undefined;
  const vector = vectorOf(result.body);
  return vector === undefined ? undefined : { vector, ms: performance.now() - started, costUsd: rec === undefined ? undefined : requestCost(rec) };
}

/** data[0].embedding of an OpenAI embeddings body, as floats; anything else is no vector. */
function vectorOf(body: string): Float32Array | undefined {
  try {
    const o = JSON.parse(body) as { data?: { embedding?: unknown }[] };
    const e = o.data?.[0]?.embedding;
    if (!Array.isArray(e) || e.length === 0 || !e.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
    return Float32Array.from(e as number[]);
  } catch {
    return undefined;
  }
}
