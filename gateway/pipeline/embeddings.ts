import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { KeelError, toKeelError } from '../errors.js';
import type { ChatRequest } from '../formats/canonical.js';
import { formats } from '../formats/index.js';
import { clip } from '../redact.js';
import { runStages, stagesFor, type StageRequest } from '../stages/index.js';
import { readJson, rejectErrorStatus, type Exchange } from './attempt.js';
import { runAttempts } from './attempts.js';
import { attributeProvider } from './chat.js';
import { encodeBody, findRoute, finishRecord, newRecord, routeNamed, sendToTarget, type CallContext, type CallResult } from './context.js';
import type { RequestObserver } from './record.js';
import { extend } from '../objects.js';

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

const embeddingsResponse = z.object({
  data: z.array(z.unknown()),
  usage: z.object({ prompt_tokens: z.number() }).optional(),
  model: z.string().optional(),
});

/** POST /v1/embeddings: OpenAI format in and out, through the same attempt loop as chat (retries, fallbacks, breakers, hedges). */
export async function runEmbeddings(ctx: CallContext, observer?: RequestObserver): Promise<CallResult> {
  const rec = newRecord(ctx, 'embeddings');
  let failure: KeelError | undefined;
  try {
    const req = parse(ctx.body);
    rec.requestModel = req.model;
    const route = findRoute(ctx.runtime, req.model);
    rec.route = route.name;
    const chat = asChat(req);
    const sr: StageRequest = { call: ctx, req: chat, route, rec };
    const result = await runStages(stagesFor(ctx.runtime, route, 'embeddings'), sr, () => runAttempts(ctx, chat, route, rec, embeddingsExchange(req)), ctx.routing.log);
    attributeProvider(rec, undefined);
    return result;
  } catch (err) {
    failure = toKeelError(err);
    rec.route ??= routeNamed(ctx);
    attributeProvider(rec, failure.errorClass);
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

const inputCount = (req: EmbeddingsRequest): number => (typeof req.input === 'string' || typeof req.input[0] === 'number' ? 1 : req.input.length);

/** What an embeddings attempt does: the caller's body (input arrays, `dimensions`, `encoding_format` as sent) with the target's model. */
function embeddingsExchange(req: EmbeddingsRequest): Exchange {
  return {
    serves: (t) => t.provider.adapter.embeddingsPath !== undefined,
    unsupported: (model) => new KeelError('KEEL_UNSUPPORTED', `The model \`${clip(model)}\` has no target that serves embeddings.`, { param: 'model' }),
    run: async (a, controller, started) => {
      const body = encodeBody(() => extend(req, { model: a.target.model }), a.target);
      const res = await sendToTarget(a.target, a.target.provider.adapter.embeddingsPath ?? '', body, controller, { rec: a.rec, spanId: a.spanId });
      await rejectErrorStatus(res, formats[a.target.provider.adapter.format], a.target, controller, a.ctx.runtime.redact);
      const { text, json } = await readJson(res, a, controller);
      const meta = embeddingsResponse.safeParse(json);
      // One vector per input, or the answer is not the one asked for (a provider that cut it, or sent an error as 200).
      if (!meta.success || meta.data.data.length !== inputCount(req)) throw new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${a.target.provider.name} returned an embeddings body without one vector per input`);
      if (!a.claim()) throw new KeelError('KEEL_ATTEMPT_CANCELLED', `provider ${a.target.provider.name}: another attempt answered first`);
      a.rec.usage = meta.data.usage === undefined ? undefined : { inputTokens: meta.data.usage.prompt_tokens, outputTokens: 0 };
      a.rec.responseModel = meta.data.model;
      return { ok: true, result: { kind: 'json', headers: extend(a.headers(), { 'content-type': 'application/json' }), body: text }, ttftMs: performance.now() - started, stats: undefined };
    },
  };
}
