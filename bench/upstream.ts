import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';

/**
 * The lean upstream stand-in: an OpenAI chat endpoint in bare node:http that does the least
 * a provider can (no validation, no routing table), so the benches measure the gateway and
 * not the stand-in. The simulator is the product's stand-in; this one exists because the
 * simulator's ceiling on one shared core is below what the overhead cells need (the
 * overhead bench prints both ceilings).
 *
 * The model name carries the behaviour, as the simulator's does: `fast;tokens=50;itl_ms=5`.
 * `fault=fail` answers 500 always; `fault=fail_once` answers 500 the first time it sees a
 * request body and 200 the second (so every request through a gateway makes exactly one retry).
 */
const WORDS = ['Keel', ' routes', ' every', ' request', ' across', ' providers', ' and', ' records', ' it', ' as', ' spans', '.'];

function params(model: string): { tokens: number; itl: number; fault: string } {
  const p = new Map(model.split(';').slice(1).map((kv) => kv.split('=') as [string, string]));
  return { tokens: Number(p.get('tokens') ?? 12), itl: Number(p.get('itl_ms') ?? 0), fault: p.get('fault') ?? 'none' };
}

function completion(model: string, tokens: number): string {
  const text = Array.from({ length: tokens }, (_, i) => WORDS[i % WORDS.length]).join('');
  return JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 1_764_000_000,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens },
  });
}

const chunk = (model: string, delta: object, finish: string | null, usage?: object) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_764_000_000, model, choices: usage ? [] : [{ index: 0, delta, finish_reason: finish }], ...(usage ? { usage } : {}) })}\n\n`;

function stream(res: ServerResponse, model: string, tokens: number, itl: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(chunk(model, { role: 'assistant', content: '' }, null));
  let i = 0;
  const next = () => {
    res.write(chunk(model, { content: WORDS[i % WORDS.length] }, null));
    if (++i < tokens) {
      setTimeout(next, itl);
      return;
    }
    res.write(chunk(model, {}, 'stop'));
    res.end(`${chunk(model, {}, null, { prompt_tokens: 8, completion_tokens: tokens, total_tokens: 8 + tokens })}data: [DONE]\n\n`);
  };
  setTimeout(next, itl);
}

const seen = new Set<string>();
const cache = new Map<string, string>();

function handle(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const body = JSON.parse(raw) as { model?: string; stream?: boolean };
  const model = body.model ?? 'fast';
  const p = params(model);
  const fail = p.fault === 'fail' || (p.fault === 'fail_once' && !seen.has(raw));
  if (p.fault === 'fail_once') {
    if (fail) seen.add(raw);
    else seen.delete(raw);
  }
  if (fail) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end('{"error":{"message":"injected failure","type":"server_error","code":null}}');
    return;
  }
  if (body.stream === true) return stream(res, model, p.tokens, p.itl);
  let text = cache.get(model);
  if (text === undefined) cache.set(model, (text = completion(model, p.tokens)));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (raw += d));
  req.on('end', () => {
    try {
      handle(req, res, raw);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad request","type":"invalid_request_error"}}');
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address();
  if (a !== null && typeof a === 'object') process.stderr.write(`upstream listening on http://127.0.0.1:${a.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
