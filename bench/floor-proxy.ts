import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

/**
 * The floor: the least a Node.js LLM proxy can do on this machine. node:http in, the body
 * parsed and written again as JSON (routing needs that much), undici out on a
 * keep-alive pool, the answer piped back chunk by chunk. No validation, no retries, no
 * telemetry, no usage parsing. Any Node gateway (Keel, Portkey) pays at least this, so the
 * overhead bench prints it as the reference: what Keel adds over it is what Keel's features cost.
 * Usage: node dist/bench/floor-proxy.js --upstream http://127.0.0.1:PORT
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } } });
const upstream = values.upstream;
if (upstream === undefined) throw new Error('--upstream is required');
const agent = new Agent({ keepAliveTimeout: 30_000, pipelining: 1 });

const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (d: string) => (raw += d));
  req.on('end', () => {
    void (async () => {
      try {
        const body = JSON.parse(raw) as unknown;
        const up = await request(`${upstream}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), dispatcher: agent });
        res.writeHead(up.statusCode, { 'content-type': String(up.headers['content-type'] ?? 'application/json') });
        for await (const chunk of up.body) res.write(chunk);
        res.end();
      } catch {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      }
    })();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address();
  if (a !== null && typeof a === 'object') process.stderr.write(`floor proxy listening on http://127.0.0.1:${a.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
