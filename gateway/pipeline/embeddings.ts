import { z } from 'zod';
import { KeelError, toKeelError } from '../errors.js';
import { formats } from '../formats/index.js';
import { pickWeighted } from '../routing/weighted.js';
import { endpointUrl } from '../runtime/resolve.js';
import { sendUpstream, transportError } from '../upstream/send.js';
import { retryAfterMs, upstreamStatusError } from '../upstream/status.js';
import { attemptController, findRoute, finishRecord, newRecord, type CallContext, type CallResult } from './context.js';
import type { RequestObserver } from './record.js';

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

function parse(body: unknown): z.infer<typeof embeddingsRequest> {
  const result = embeddingsRequest.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const param = issue?.path.join('.') || undefined;
  const what = param === 'input' ? 'input must be a string, an array of strings, or token arrays' : issue?.message ?? 'invalid request';
  throw new KeelError('KEEL_INVALID_REQUEST', param === undefined ? what : `${param}: ${what}`, { param });
}

const usageShape = z.object({ usage: z.object({ prompt_tokens: z.number() }).optional(), model: z.string().optional() });

/** POST /v1/embeddings: OpenAI format in and out, to targets whose provider has embeddings. */
export async function runEmbeddings(ctx: CallContext, observer?: RequestObserver): Promise<CallResult> {
  const rec = newRecord(ctx, 'embeddings');
  let failure: KeelError | undefined;
  try {
    const req = parse(ctx.body);
    rec.requestModel = req.model;
    const route = findRoute(ctx.runtime, req.model);
    rec.route = route.name;
    const capable = route.targets.filter((t) => t.provider.adapter.embeddingsPath !== undefined);
    const target = pickWeighted(capable, (t) => t.weight);
    const path = target?.provider.adapter.embeddingsPath;
    if (target === undefined || path === undefined) {
      throw new KeelError('KEEL_UNSUPPORTED', `The model \`${req.model}\` has no target that serves embeddings.`, { param: 'model' });
    }
    rec.provider = target.provider.name;
    rec.providerType = target.provider.adapter.type;
    const { controller, dispose } = attemptController(ctx, route.timeouts.total_ms);
    try {
      const res = await sendUpstream({
        url: endpointUrl(target, path),
        headers: target.provider.headers,
        body: JSON.stringify({ ...req, model: target.model }),
        signal: controller.signal,
        connectMs: route.timeouts.connect_ms,
        headersMs: route.timeouts.headers_ms,
        providerName: target.provider.name,
      });
      const text = await res.body.text().catch((err: unknown) => {
        throw transportError(err, target.provider.name, controller.signal);
      });
      const format = formats[target.provider.adapter.format];
      if (res.statusCode >= 400) {
        throw upstreamStatusError(res.statusCode, text, format, target.provider.name, retryAfterMs(res.headers['retry-after']));
      }
      const meta = usageShape.safeParse(safeJson(text));
      if (meta.success && meta.data.usage) rec.usage = { inputTokens: meta.data.usage.prompt_tokens, outputTokens: 0 };
      rec.responseModel = meta.success ? meta.data.model : undefined;
      const headers = { ...ctx.baseHeaders, 'x-keel-route': route.name, 'x-keel-provider': target.provider.name, 'x-keel-model': target.model };
      return { kind: 'json', headers: { ...headers, 'content-type': 'application/json' }, body: text };
    } finally {
      dispose();
    }
  } catch (err) {
    failure = toKeelError(err);
    throw failure;
  } finally {
    observer?.(finishRecord(rec, ctx, failure));
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
