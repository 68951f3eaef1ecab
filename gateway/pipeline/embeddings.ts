import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { KeelError, toKeelError } from '../errors.js';
import { formats } from '../formats/index.js';
import { pickWeighted } from '../routing/weighted.js';
import type { ResolvedRoute, ResolvedTarget } from '../runtime/resolve.js';
import { retryAfterMs, upstreamStatusError } from '../upstream/status.js';
import { readBody } from './attempt.js';
import { answerHeaders, attemptController, encodeBody, findRoute, finishRecord, newRecord, routeNamed, sendToTarget, type CallContext, type CallResult } from './context.js';
import { attemptInfo, type CompletedRequest, type RequestObserver } from './record.js';
import type { ChatRequest } from '../formats/canonical.js';
import { runStages, stagesFor, type StageRequest } from '../stages/index.js';

/** https://platform.openai.com/docs/api-reference/embeddings/create — unknown fields pass through. */
const embeddingsRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.number().int()).min(1),
    z.array(z.array(z.number().int()).min(1)).min(1),
  ]),
});
type EmbeddingsRequest = z.infer<typeof embeddingsRequest>;

function parse(body: unknown): EmbeddingsRequest {
  const result = embeddingsRequest.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.join('.') || undefined;
  const what = param === 'input' ? 'input must be a string, an array of strings, or token arrays' : issue?.message ?? 'invalid request';
  throw new KeelError('KEEL_INVALID_REQUEST', param === undefined ? what : `${param}: ${what}`, { param });
}

const responseMeta = z.object({ usage: z.object({ prompt_tokens: z.number() }).optional(), model: z.string().optional() });

/** POST /v1/embeddings: OpenAI format in and out, to targets whose provider has embeddings. */
export async function runEmbeddings(ctx: CallContext, observer?: RequestObserver): Promise<CallResult> {
  const rec = newRecord(ctx, 'embeddings');
  let failure: KeelError | undefined;
  try {
    const req = parse(ctx.body);
    rec.requestModel = req.model;
    const route = findRoute(ctx.runtime, req.model);
    rec.route = route.name;
    const sr: StageRequest = { call: ctx, req: asChat(req), route, rec };
    return await runStages(stagesFor(ctx.runtime, route, 'embeddings'), sr, () => embedOnce(ctx, req, route, rec), ctx.routing.log);
  } catch (err) {
    failure = toKeelError(err);
    rec.route ??= routeNamed(ctx);
    throw failure;
  } finally {
    observer?.(finishRecord(rec, ctx, failure));
  }
}

/**
 * The embeddings input as the stages see requests (key access, RPM/TPM, budgets): its text as
 * one user message, and no output tokens to reserve.
 */
function asChat(req: EmbeddingsRequest): ChatRequest {
  const text = typeof req.input === 'string' ? req.input : req.input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join('\n');
  return { model: req.model, system: undefined, messages: [{ role: 'user', content: [{ type: 'text', text }] }], stream: false, streamUsage: false, maxTokens: 0, original: { format: 'openai-chat', body: req } };
}

async function embedOnce(ctx: CallContext, req: EmbeddingsRequest, route: ResolvedRoute, rec: CompletedRequest): Promise<CallResult> {
  const target = pickWeighted(
    route.targets.filter((t) => t.provider.adapter.embeddingsPath !== undefined),
    (t) => t.weight,
  );
  if (target === undefined) throw new KeelError('KEEL_UNSUPPORTED', `The model \`${req.model}\` has no target that serves embeddings.`, { param: 'model' });
  rec.provider = target.provider.name;
  rec.providerType = target.provider.adapter.type;
  return recordAttempt(ctx, rec, target, () => embed(ctx, req, route, target, rec));
}

async function embed(ctx: CallContext, req: EmbeddingsRequest, route: ResolvedRoute, target: ResolvedTarget, rec: CompletedRequest): Promise<CallResult> {
  const { controller, dispose } = attemptController(ctx, route.timeouts.total_ms);
  try {
    const body = encodeBody(() => ({ ...req, model: target.model }), target);
    const res = await sendToTarget(target, target.provider.adapter.embeddingsPath ?? '', body, controller);
    // Bounded like a chat answer: max_bytes (64 KiB for an error body) and idle_ms between chunks.
    const text = res.statusCode >= 400 ? await readBody(res, target, controller).catch(() => '') : await readBody(res, target, controller);
    if (res.statusCode >= 400) {
      throw upstreamStatusError(res.statusCode, text, formats[target.provider.adapter.format], target.provider.name, retryAfterMs(res.headers['retry-after']), ctx.runtime.redact);
    }
    const meta = responseMeta.safeParse(safeJson(text));
    if (meta.success) {
      if (meta.data.usage) rec.usage = { inputTokens: meta.data.usage.prompt_tokens, outputTokens: 0 };
      rec.responseModel = meta.data.model;
    }
    return { kind: 'json', headers: { ...answerHeaders(ctx, route, target), 'content-type': 'application/json' }, body: text };
  } finally {
    dispose();
  }
}

/** Embeddings make one attempt (no retries yet); it is recorded like a chat attempt for telemetry. */
async function recordAttempt(ctx: CallContext, rec: CompletedRequest, target: ResolvedTarget, run: () => Promise<CallResult>): Promise<CallResult> {
  const startMs = performance.now() - ctx.receivedAt;
  let error: KeelError | undefined;
  try {
    return await run();
  } catch (err) {
    error = toKeelError(err);
    throw error;
  } finally {
    rec.attempts.push(
      attemptInfo(target, { reason: 'primary', startMs, durationMs: performance.now() - ctx.receivedAt - startMs, ttftMs: undefined, error }),
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
