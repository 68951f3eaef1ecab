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
    case 'huge_error':
      await hugeError(ex, b.status ?? 500, b.bytes ?? DEFAULT_BYTES);
      return true;
    default:
      return false;
  }
}

/** What huge_line and huge_error send when `bytes` is not given: past a 1 MiB event limit, small for a test. */
const DEFAULT_BYTES = 2 * 1024 * 1024;

/** An error status whose JSON body is `bytes` long: the error message is filler. */
async function hugeError(ex: Exchange, status: number, bytes: number): Promise<void> {
  const head = '{"error":{"type":"server_error","code":null,"message":"';
  const tail = '"}}';
  ex.head(status, { 'content-type': 'application/json' });
  await ex.write(head);
  await ex.pad(Math.max(0, bytes - head.length - tail.length));
  await ex.write(tail);
  if (!ex.gone) ex.end('huge_error');
}

export function produceAnswer(api: SimApi, parsed: ParsedRequest, b: Behaviour, seq: number): Answer {
  return answerFor({ ...parsed.answer, mode: b.answer ?? 'auto', tokens: b.tokens ?? 12, text: b.text, toolId: api.toolId(seq) });
}

export async function sendJson(api: SimApi, ex: Exchange, answer: Answer, ctx: AnswerContext, b: Behaviour): Promise<void> {
  if (b.fault === 'stall') return ex.forever('stall');
  await ex.sleep(b.latency_ms);
  return sendBody(ex, api.body(answer, ctx), b);
}

/** A 200 JSON answer (chat or embeddings) with the body-level faults: cut, body_stall, huge_line. */
export async function sendBody(ex: Exchange, body: unknown, b: Behaviour): Promise<void> {
  const text = JSON.stringify(body);
  switch (b.fault) {
    case 'cut':
      ex.head(200, { 'content-type': 'application/json' });
      await ex.write(text.slice(0, Math.floor(text.length / 2)));
      return ex.cut();
    case 'body_stall':
      ex.head(200, { 'content-type': 'application/json' });
      await ex.write(text.slice(0, Math.floor(text.length / 3)));
      return ex.forever('body_stall');
    case 'huge_line':
      // Still a valid answer: only the size is wrong, so nothing but a size limit refuses it.
      ex.head(200, { 'content-type': 'application/json' });
      await ex.write('{"pad":"');
      await ex.pad(Math.max(0, (b.bytes ?? DEFAULT_BYTES) - text.length - 9));
      await ex.write(`",${text.slice(1)}`);
      if (!ex.gone) ex.end('huge_line');
      return;
    default:
      ex.json(200, body);
  }
}

/** One SSE `data:` line of `bytes` bytes (terminator included), written in pieces. */
async function hugeLine(ex: Exchange, bytes: number): Promise<void> {
  const head = 'data: {"pad":"';
  const tail = '"}\n\n';
  await ex.write(head);
  await ex.pad(Math.max(0, bytes - head.length - tail.length));
  await ex.write(tail);
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
  let padded = false;
  for (const frame of faultedFrames(api, api.frames(answer, ctx), b)) {
    if (frame.token) {
      if (sent === after && (b.fault === 'stall' || b.fault === 'body_stall')) return ex.forever('stall');
      if (sent === after && b.fault === 'cut') return ex.cut();
      if (sent === after && b.fault === 'huge_line' && !padded) {
        padded = true;
        await hugeLine(ex, b.bytes ?? DEFAULT_BYTES);
      }
      // A model slow to answer (latency_ms) is as slow to start when streamed, unless ttft_ms says otherwise.
      await ex.sleep(sent === 0 ? (b.ttft_ms ?? b.latency_ms) : b.itl_ms);
      sent++;
      ex.record.tokensSent = sent;
    }
    await ex.write(frame.text);
    if (ex.gone) return;
  }
  const clean = b.fault === 'malformed' || b.fault === 'no_done' || b.fault === 'huge_line' ? b.fault : 'ok';
  ex.end(clean);
}
