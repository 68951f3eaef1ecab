import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { Agent, type Dispatcher } from 'undici';

/**
 * The floor: the least a Node.js LLM proxy can do on this machine. node:http in, the body
 * parsed and written again as JSON (routing needs that much), undici's dispatch API out on
 * a keep-alive pool, the answer's bytes written back as they arrive (a stream chunk by
 * chunk). No validation, no retries, no telemetry, no usage parsing. Any Node gateway pays
 * at least this, so the benches print it as the reference: what Keel adds over it is what
 * Keel's features cost.
 * Usage: node dist/bench/floor-proxy.js --upstream http://127.0.0.1:PORT
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } } });
if (values.upstream === undefined) throw new Error('--upstream is required');
const origin = new URL(values.upstream).origin;
const agent = new Agent({ keepAliveTimeout: 30_000, pipelining: 1 });

function relay(res: ServerResponse): Dispatcher.DispatchHandler {
  return {
    // undici takes a handler as the new (controller) kind only when it has onRequestStart.
    onRequestStart() {},
    onResponseStart(c, statusCode, headers) {
      const head: Record<string, string> = { 'content-type': String(headers['content-type'] ?? 'application/json') };
      if (headers['content-length'] !== undefined) head['content-length'] = String(headers['content-length']);
      res.writeHead(statusCode, head);
      res.on('drain', () => c.resume());
    },
    onResponseData(c, chunk) {
      if (!res.write(chunk)) c.pause();
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError() {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    },
  };
}

const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (raw += d));
  req.on('end', () => {
    let body: string;
    try {
      body = JSON.stringify(JSON.parse(raw) as unknown);
    } catch {
      res.writeHead(400).end();
      return;
    }
    agent.dispatch({ origin, path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body }, relay(res));
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address();
  if (a !== null && typeof a === 'object') process.stderr.write(`floor proxy listening on http://127.0.0.1:${a.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
