import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isLoopbackHost, type ServerConfig } from '../../config/schema.js';
import { KeelError } from '../errors.js';
import { sendError } from './errors.js';

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Where GET /metrics is served, and to whom. Metrics name every route, provider and model,
 * and their rates: not for anyone who can reach the API port.
 * - server.admin_port: on a listener of its own bound to 127.0.0.1, no token; not on the main port.
 * - server.admin_token: on the main port, to `Authorization: Bearer <admin_token>`.
 * - neither: on the main port only while it listens on loopback (`keel start` on a laptop).
 */
export function registerMetrics(app: FastifyInstance, handler: MetricsHandler, server: ServerConfig): void {
  if (server.admin_port !== undefined) {
    serveAdminPort(app, handler, server.admin_port);
    return;
  }
  const guard = server.admin_token === undefined ? loopbackOnly(app) : tokenGuard(server.admin_token);
  app.get('/metrics', (request, reply) => {
    const refusal = guard(request);
    if (refusal !== undefined) return sendError(request, reply, refusal);
    reply.hijack();
    handler(request.raw, reply.raw);
  });
}

type Guard = (request: FastifyRequest) => KeelError | undefined;

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function tokenGuard(token: string): Guard {
  const expected = digest(token);
  return (request) => {
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization?.trim() ?? '');
    // Compared as digests in constant time: the lengths and the bytes of the token stay unlearnable.
    if (match?.[1] !== undefined && timingSafeEqual(digest(match[1].trim()), expected)) return undefined;
    return new KeelError('KEEL_UNAUTHENTICATED', 'GET /metrics needs `Authorization: Bearer <server.admin_token>`.');
  };
}

function loopbackOnly(app: FastifyInstance): Guard {
  return () => {
    if (listensOnLoopback(app.server)) return undefined;
    return new KeelError(
      'KEEL_FORBIDDEN',
      'GET /metrics is not served on a non-loopback address without credentials: set server.admin_token (and send it as a Bearer token) or server.admin_port (a listener on 127.0.0.1).',
    );
  };
}

/** Whether the server's bound address only takes connections from this machine. */
export function listensOnLoopback(server: Server): boolean {
  const address = server.address();
  // Unix sockets (a string) are reachable only through the file system.
  if (address === null || typeof address === 'string') return true;
  return isLoopbackHost(address.address);
}

const adminServers = new WeakMap<FastifyInstance, Server>();

/** The admin listener's URL once the gateway is ready (server.admin_port set), for logs and tests. */
export function adminUrl(app: FastifyInstance): string | undefined {
  const address = adminServers.get(app)?.address();
  if (address === null || address === undefined || typeof address === 'string') return undefined;
  return `http://127.0.0.1:${address.port}`;
}

/** A loopback-only listener with /metrics alone, started with the gateway and closed with it. */
function serveAdminPort(app: FastifyInstance, handler: MetricsHandler, port: number): void {
  const admin = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') return handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the admin port serves GET /metrics\n');
  });
  adminServers.set(app, admin);
  app.addHook('onReady', () => listen(admin, port));
  app.addHook('onClose', () => new Promise<void>((resolve) => admin.close(() => resolve())));
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}
