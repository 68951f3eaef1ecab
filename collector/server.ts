import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { QueueFull, type Batcher, type Row } from './batcher.js';
import { decodeRequest, decodeTraceLines, encodeResponse, encodeStatus, encodingOf, OtlpDecodeError, type Encoding } from './otlp/decode.js';
import type { Signal } from './otlp/types.js';
import { metricRows } from './rows/metrics.js';
import { traceRows } from './rows/traces.js';

/** google.rpc codes used in error bodies. */
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;

export interface CollectorServerOptions {
  batcher: Batcher;
  /** Runs a read-only query for `keel query` (loopback callers only). */
  query?: (sql: string) => Promise<string>;
  bodyLimit?: number;
}

/** What one export request becomes: rows per table and how many items were rejected, and why. */
function rowsFor(signal: Signal, body: Buffer, encoding: Encoding, gzip: boolean): { tables: Record<string, Row[]>; rejected: number; reason: string } {
  if (signal === 'traces' && encoding === 'protobuf') {
    const mapped = decodeTraceLines(body, gzip);
    return { tables: { otel_traces: mapped.lines }, rejected: mapped.rejected, reason: mapped.reason };
  }
  if (signal === 'traces') {
    const mapped = traceRows(decodeRequest('traces', body, encoding, gzip));
    return { tables: { otel_traces: mapped.rows }, rejected: mapped.rejected, reason: mapped.reason };
  }
  const { rows } = metricRows(decodeRequest('metrics', body, encoding, gzip));
  return { tables: rows, rejected: 0, reason: '' };
}

async function handle(signal: Signal, req: FastifyRequest, reply: FastifyReply, batcher: Batcher): Promise<void> {
  const encoding = encodingOf(req.headers['content-type']);
  if (encoding === undefined) {
    const out = encodeStatus('json', INVALID_ARGUMENT, 'Content-Type must be application/x-protobuf or application/json');
    return void reply.code(415).type(out.contentType).send(out.body);
  }
  const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
  let mapped: ReturnType<typeof rowsFor>;
  try {
    mapped = rowsFor(signal, req.body as Buffer, encoding, gzip);
  } catch (err) {
    const out = encodeStatus(encoding, INVALID_ARGUMENT, err instanceof OtlpDecodeError ? err.message : 'the request could not be read');
    return void reply.code(400).type(out.contentType).send(out.body);
  }
  try {
    await batcher.add(mapped.tables);
  } catch (err) {
    // Retryable per the OTLP spec: the exporter backs off and sends again.
    const full = err instanceof QueueFull;
    const out = encodeStatus(encoding, full ? RESOURCE_EXHAUSTED : UNAVAILABLE, full ? err.message : 'the store and the spool both refused the data');
    return void reply.code(full ? 429 : 503).header('retry-after', '1').type(out.contentType).send(out.body);
  }
  const out = encodeResponse(signal, encoding, mapped.rejected, mapped.reason);
  reply.code(200).type(out.contentType).send(out.body);
}

/** The OTLP/HTTP receiver (standards.md §7): /v1/traces and /v1/metrics, protobuf or JSON, optionally gzipped. */
export function buildCollectorServer(o: CollectorServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: o.bodyLimit ?? 32 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.post('/v1/traces', (req, reply) => handle('traces', req, reply, o.batcher));
  app.post('/v1/metrics', (req, reply) => handle('metrics', req, reply, o.batcher));
  app.get('/healthz', () => ({ status: 'ok', ...o.batcher.stats }));
  const query = o.query;
  if (query !== undefined) {
    // chDB binds its folder to one process, so `keel query` asks the running collector.
    app.post('/query', async (req, reply) => {
      const from = req.socket.remoteAddress ?? '';
      if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(from)) return reply.code(403).send('keel query is answered on loopback only\n');
      try {
        return reply.type('text/plain; charset=utf-8').send(await query((req.body as Buffer).toString('utf8')));
      } catch (err) {
        return reply.code(400).type('text/plain; charset=utf-8').send(`${err instanceof Error ? err.message : String(err)}\n`);
      }
    });
  }
  return app;
}
