import { answerFor, type Answer } from './answer.js';
import type { AnswerContext, Frame, ParsedRequest, SimApi } from './api.js';
import type { Behaviour } from './behaviour.js';
import type { Exchange } from './exchange.js';

/** Request-level faults: an error response (or none) before any answer is produced. */
export async function requestFault(api: SimApi, ex: Exchange, b: Behaviour, failNow: boolean, prefill = ''): Promise<boolean> {
  const retry: Record<string, string> = b.retry_after_s === undefined ? {} : { 'retry-after': String(b.retry_after_s) };
  if (failNow) {
    ex.error(api, 'server_error', b.error_status ?? 500, 'The simulated server had an error while processing your request.');
    return true;
  }
  switch (b.fault) {
    case 'rate_limit':
      ex.error(api, 'rate_limit', 429, 'Rate limit reached for requests (simulated).', retry);
      return true;
    case 'server_error':
      ex.error(api, 'server_error', b.status ?? 500, 'The simulated server had an error while processing your request.');
      return true;
    case 'overloaded':
      // Anthropic signals overload with its own 529; OpenAI-style servers with 503.
      ex.error(api, 'overloaded', api.id === 'anthropic-messages' ? 529 : 503, 'Overloaded (simulated).', retry);
      return true;
    case 'context_length':
      ex.error(api, 'context_length', 400, api.id === 'anthropic-messages' ? 'prompt is too long: 210000 tokens > 200000 maximum' : "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.");
      return true;
    case 'content_policy':
      ex.error(api, 'content_policy', 400, 'Your request was rejected as a result of our safety system (content policy violation, simulated).');
      return true;
    case 'reject_prefill':
      if (prefill === '') return false;
      ex.error(api, 'bad_request', 400, 'This model does not support assistant message prefill. The conversation must end with a user message.');
      return true;
    case 'reset':
      ex.destroy('reset');
      return true;
    case 'hang':
      await ex.forever('hang');
      return true;
    default:
      return false;
  }
}

export function produceAnswer(api: SimApi, parsed: ParsedRequest, b: Behaviour, seq: number): Answer {
  return answerFor({ ...parsed.answer, mode: b.answer ?? 'auto', tokens: b.tokens ?? 12, text: b.text, toolId: api.toolId(seq) });
}

export async function sendJson(api: SimApi, ex: Exchange, answer: Answer, ctx: AnswerContext, b: Behaviour): Promise<void> {
  if (b.fault === 'stall') return ex.forever('stall');
  await ex.sleep(b.latency_ms);
  if (b.fault === 'cut') {
    const text = JSON.stringify(api.body(answer, ctx));
    ex.head(200, { 'content-type': 'application/json' });
    await ex.write(text.slice(0, Math.floor(text.length / 2)));
    return ex.cut();
  }
  ex.json(200, api.body(answer, ctx));
}

/** The stream's frames with the malformed line inserted and the terminator removed as the fault asks. */
function faultedFrames(api: SimApi, frames: Frame[], b: Behaviour): Frame[] {
  const after = b.after_tokens ?? 3;
  let out = b.fault === 'no_done' ? frames.filter((f) => f.terminator !== true) : frames;
  if (b.fault === 'malformed') {
    let tokens = 0;
    const at = out.findIndex((f) => f.token && tokens++ === after);
    const index = at === -1 ? out.length - 1 : at;
    out = [...out.slice(0, index), { text: api.malformed, token: false }, ...out.slice(index)];
  }
  return out;
}

export async function sendStream(api: SimApi, ex: Exchange, answer: Answer, ctx: AnswerContext, b: Behaviour): Promise<void> {
  ex.head(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const after = b.after_tokens ?? 3;
  let sent = 0;
  for (const frame of faultedFrames(api, api.frames(answer, ctx), b)) {
    if (frame.token) {
      if (sent === after && b.fault === 'stall') return ex.forever('stall');
      if (sent === after && b.fault === 'cut') return ex.cut();
      await ex.sleep(sent === 0 ? b.ttft_ms : b.itl_ms);
      sent++;
      ex.record.tokensSent = sent;
    }
    await ex.write(frame.text);
    if (ex.gone) return;
  }
  const clean = b.fault === 'malformed' || b.fault === 'no_done' ? b.fault : 'ok';
  ex.end(clean);
}
