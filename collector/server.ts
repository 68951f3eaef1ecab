import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import { presentedToken, secretMatches } from '../config/secret.js';
import { QueueFull, SpoolWriteFailed, type Batcher, type Row } from './batcher.js';
import { collectorMetrics, collectorStatus } from './metrics.js';
import { DEFAULT_MAX_BODY_BYTES, decodeRequest, decodeTraceRows, encodeResponse, encodeStatus, encodingOf, inflate, OtlpDecodeError, OtlpTooLarge, type Encoding } from './otlp/decode.js';
import type { Signal } from './otlp/types.js';
import { metricRows } from './rows/metrics.js';
import { traceRows } from './rows/traces.js';

/**
 * A whole request (headers and body) must arrive within this (fastify's default is no limit: a
 * trickling sender would hold its connection forever). 32 MiB takes 30 s at 1 MB/s.
 */
const REQUEST_TIMEOUT_MS = 60_000;

/** telemetry.collector.max_inflight_bytes' default: eight bodies of the default largest size. */
const DEFAULT_MAX_INFLIGHT_BYTES = 256 * 1024 * 1024;

/** google.rpc codes used in error bodies. */
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

export interface CollectorServerOptions {
  batcher: Batcher;
  /** Runs a read-only query for `keel query` (loopback callers with `queryToken` only). */
  query?: (sql: string) => Promise<string>;
  /** Largest body, compressed or inflated; larger gets 413 (default 32 MiB). */
  bodyLimit?: number;
  /** Bodies received at once, by declared length (default 256 MiB): what the bodies in memory can add up to. */
  maxInflightBytes?: number;
  /** Bearer token OTLP ingest requires; absent: ingest is open (allowed on loopback only, see config). */
  token?: string;
  /** The token /query requires: always one (the configured token, else one generated per process). */
  queryToken?: string;
}

/** What one export request becomes: rows per table and how many items were rejected, and why. */
function rowsFor(signal: Signal, raw: Buffer, encoding: Encoding): { tables: Record<string, Row[]>; rejected: number; reason: string } {
  if (signal === 'traces' && encoding === 'protobuf') {
    const mapped = decodeTraceRows(raw, false);
    return { tables: { otel_traces: mapped.rows }, rejected: mapped.rejected, reason: mapped.reason };
  }
  if (signal === 'traces') {
    const mapped = traceRows(decodeRequest('traces', raw, encoding, false));
    return { tables: { otel_traces: mapped.rows }, rejected: mapped.rejected, reason: mapped.reason };
  }
  const { rows } = metricRows(decodeRequest('metrics', raw, encoding, false));
  return { tables: rows, rejected: 0, reason: '' };
}

/** gzip or none: an encoding the collector cannot undo would be read as garbage. */
function gzipOf(header: string | undefined): boolean | undefined {
  const value = (header ?? '').trim().toLowerCase();
  if (value === 'gzip') return true;
  return value === '' || value === 'identity' ? false : undefined;
}

function sendStatus(reply: FastifyReply, status: number, encoding: Encoding, code: number, message: string): void {
  const out = encodeStatus(encoding, code, message);
  reply.code(status).type(out.contentType).send(out.body);
}

/** Decodes the body, or answers 413/400 and returns undefined. */
function decodeOrReply(signal: Signal, body: Buffer, encoding: Encoding, gzip: boolean, limit: number, reply: FastifyReply): ReturnType<typeof rowsFor> | undefined {
  try {
    return rowsFor(signal, inflate(body, gzip, limit), encoding);
  } catch (err) {
    if (err instanceof OtlpTooLarge) sendStatus(reply, 413, encoding, RESOURCE_EXHAUSTED, err.message);
    else sendStatus(reply, 400, encoding, INVALID_ARGUMENT, err instanceof OtlpDecodeError ? err.message : 'the request could not be read');
    return undefined;
  }
}

async function handle(signal: Signal, req: FastifyRequest, reply: FastifyReply, batcher: Batcher, limit: number): Promise<void> {
  const encoding = encodingOf(req.headers['content-type']);
  if (encoding === undefined) return sendStatus(reply, 415, 'json', INVALID_ARGUMENT, 'Content-Type must be application/x-protobuf or application/json');
  const gzip = gzipOf(req.headers['content-encoding']);
  if (gzip === undefined) return sendStatus(reply, 415, encoding, INVALID_ARGUMENT, 'Content-Encoding must be gzip or none');
  const mapped = decodeOrReply(signal, req.body as Buffer, encoding, gzip, limit, reply);
  if (mapped === undefined) return;
  try {
    await batcher.add(mapped.tables);
  } catch (err) {
    // Retryable per the OTLP spec: the exporter backs off and sends again. A full queue is 429
    // (slow down); a spool that cannot be written is 503 (unavailable until the disk recovers).
    const full = err instanceof QueueFull;
    reply.header('retry-after', '1');
    const message = full || err instanceof SpoolWriteFailed ? err.message : 'the collector could not make the data durable';
    return sendStatus(reply, full ? 429 : 503, encoding, full ? RESOURCE_EXHAUSTED : UNAVAILABLE, message);
  }
  const out = encodeResponse(signal, encoding, mapped.rejected, mapped.reason);
  reply.code(200).type(out.contentType).send(out.body);
}

/**
 * 401 unless the request carries `token` (checked in onRequest, before any of the body is read,
 * so an unauthenticated caller costs no parsing). Constant-time compare: config/secret.ts.
 */
function requireToken(token: string | undefined, what: string): onRequestHookHandler {
  return (req, reply, done) => {
    if (token === undefined || secretMatches(presentedToken(req.headers.authorization), token)) return done();
    reply.header('www-authenticate', 'Bearer realm="keel-collector"');
    sendStatus(reply, 401, encodingOf(req.headers['content-type']) ?? 'json', UNAUTHENTICATED, `${what} needs the collector token (Authorization: Bearer …)`);
  };
}

/**
 * Each body is capped, but many at once are not: this bounds their sum. A request reserves its
 * declared Content-Length (a chunked one the whole body limit) before its body is read, and gives
 * it back when its response is done or its connection goes; one request is always let in, so a
 * lone export of the largest allowed size still passes. Runs after the token check, so an
 * unauthenticated caller cannot spend the budget.
 */
function admitBodies(maxBytes: number, bodyLimit: number, batcher: Batcher): onRequestHookHandler {
  let inflight = 0;
  return (req, reply, done) => {
    const declared = Number(req.headers['content-length']);
    const cost = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, bodyLimit) : bodyLimit;
    if (inflight > 0 && inflight + cost > maxBytes) {
      batcher.refused('bodies');
      reply.header('retry-after', '1');
      return sendStatus(reply, 429, encodingOf(req.headers['content-type']) ?? 'json', RESOURCE_EXHAUSTED, `the collector is receiving ${inflight} bytes of bodies already; retry`);
    }
    inflight += cost;
    reply.raw.once('close', () => (inflight -= cost));
    done();
  };
}

/**
 * 429 before the body is read while the queue is at its time bound (Batcher.admitting): the
 * sender retries after Retry-After as for a full queue, and the refusal costs no decoding.
 */
function admitQueue(batcher: Batcher): onRequestHookHandler {
  return (req, reply, done) => {
    if (batcher.admitting()) return done();
    batcher.refused('queue');
    reply.header('retry-after', '1');
    sendStatus(reply, 429, encodingOf(req.headers['content-type']) ?? 'json', RESOURCE_EXHAUSTED, 'collector queue full (inserts are behind); retry');
  };
}

/** Errors fastify raises itself (body over the limit, bad Content-Length) as OTLP status bodies; nothing internal leaks. */
function onError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  const encoding = encodingOf(req.headers['content-type']) ?? 'json';
  if (status === 413) return sendStatus(reply, 413, encoding, RESOURCE_EXHAUSTED, 'the body is larger than the collector accepts (telemetry.collector.max_body_bytes)');
  sendStatus(reply, status, encoding, status === 500 ? INTERNAL : INVALID_ARGUMENT, status === 500 ? 'internal error' : err.message);
}

function addQuery(app: FastifyInstance, query: (sql: string) => Promise<string>, token: string): void {
  // chDB binds its folder to one process, so `keel query` asks the running collector.
  app.post('/query', { onRequest: requireToken(token, 'keel query') }, async (req, reply) => {
    const from = req.socket.remoteAddress ?? '';
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(from)) return reply.code(403).send('keel query is answered on loopback only\n');
    try {
      return reply.type('text/plain; charset=utf-8').send(await query((req.body as Buffer).toString('utf8')));
    } catch (err) {
      return reply.code(400).type('text/plain; charset=utf-8').send(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
}

/** The OTLP/HTTP receiver (standards.md §7): /v1/traces and /v1/metrics, protobuf or JSON, optionally gzipped. */
export function buildCollectorServer(o: CollectorServerOptions): FastifyInstance {
  const limit = o.bodyLimit ?? DEFAULT_MAX_BODY_BYTES;
  const app = Fastify({ logger: false, bodyLimit: limit, requestTimeout: REQUEST_TIMEOUT_MS });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler(onError);
  const ingest = [requireToken(o.token, 'OTLP ingest'), admitQueue(o.batcher), admitBodies(o.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES, limit, o.batcher)];
  app.post('/v1/traces', { onRequest: ingest }, (req, reply) => handle('traces', req, reply, o.batcher, limit));
  app.post('/v1/metrics', { onRequest: ingest }, (req, reply) => handle('metrics', req, reply, o.batcher, limit));
  app.get('/healthz', () => ({ status: 'ok', ...collectorStatus(o.batcher) }));
  // Open like /healthz: counts and sizes only, for Prometheus (alerts/prometheus/keel-collector.rules.yml).
  app.get('/metrics', (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(collectorMetrics(o.batcher)));
  // /query must never be open: with no token given, one nobody can know (callers pass queryToken).
  if (o.query !== undefined) addQuery(app, o.query, o.queryToken ?? o.token ?? randomBytes(32).toString('hex'));
  return app;
}
