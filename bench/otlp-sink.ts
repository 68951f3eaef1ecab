import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

/**
 * An OTLP/HTTP endpoint that takes every export and stores nothing: an empty protobuf
 * Export*ServiceResponse (zero bytes) means full success. The overhead bench points one
 * Keel gateway with full telemetry at it, so the gateway's own telemetry cost (spans built,
 * serialised and sent) is measured without the storage side competing for the load core.
 */
const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const a = server.address();
  if (a !== null && typeof a === 'object') process.stderr.write(`otlp sink listening on http://127.0.0.1:${a.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
