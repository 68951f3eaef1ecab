import { KeelError, toKeelError } from '../errors.js';
import { formats } from '../formats/index.js';
import { readBody, rejectErrorStatus } from '../pipeline/attempt.js';
import { encodeBody, sendToTarget } from '../pipeline/context.js';
import type { Redactor } from '../redact.js';
import { endpointUrl, type ResolvedTarget } from '../runtime/resolve.js';
import { Abort } from '../upstream/abort.js';
import { sendUpstream, transportError, type UpstreamResponse } from '../upstream/send.js';
import type { EffectiveHealthCheck } from '../../config/health-check-schema.js';
import { probeChatBody } from './verdict.js';

/**
 * Sends one probe and says how it went, mapped exactly as a real attempt's failure is
 * (upstreamStatusError, transportError, a body that is not the format's answer is
 * provider_malformed), so what counts against a target is the same for both. Never throws.
 */
export async function sendProbe(target: ResolvedTarget, hc: EffectiveHealthCheck, redact: Redactor, signal: Abort = new Abort()): Promise<KeelError | undefined> {
  const timer = setTimeout(() => signal.abort(new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${target.provider.name}: health check got no answer within ${hc.timeout_ms} ms`, { upstreamCode: 'probe_timeout' })), hc.timeout_ms);
  timer.unref();
  try {
    const res = hc.method === 'models' ? await listModels(target, signal) : await sendToTarget(target, target.provider.adapter.chatPath, encodeBody(() => probeChatBody(target), target), signal);
    await judge(res, target, hc, signal, redact);
    return undefined;
  } catch (err) {
    const error = signal.reason instanceof KeelError ? signal.reason : err instanceof KeelError ? err : transportError(err, target.provider.name, signal);
    return toKeelError(error);
  } finally {
    clearTimeout(timer);
  }
}

function listModels(target: ResolvedTarget, signal: Abort): Promise<UpstreamResponse> {
  const path = target.provider.adapter.modelsPath;
  // Config cannot ask for it (every adapter has one), so a missing path is Keel's: no verdict on the target.
  if (path === undefined) return Promise.reject(new KeelError('KEEL_ENCODE_FAILED', `provider ${target.provider.name} has no model list to probe`));
  const t = target.timeouts;
  return sendUpstream({ url: endpointUrl(target, path), method: 'GET', headers: target.provider.headers, body: '', signal, connectMs: t.connect_ms, headersMs: t.headers_ms, providerName: target.provider.name });
}

async function judge(res: UpstreamResponse, target: ResolvedTarget, hc: EffectiveHealthCheck, signal: Abort, redact: Redactor): Promise<void> {
  const upstream = formats[target.provider.adapter.format];
  // An error status is mapped exactly as an attempt's is (its body read to 64 KiB, Retry-After kept).
  await rejectErrorStatus(res, upstream, target, signal, redact);
  const text = await readBody(res, target, signal);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeelError('KEEL_UPSTREAM_BAD_RESPONSE', `provider ${target.provider.name} answered the health check with a body that is not JSON`);
  }
  // A chat probe's answer must be one: a 200 with garbage is as broken as a 500.
  if (hc.method === 'chat') upstream.parseResponse(json);
}
