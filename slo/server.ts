import Fastify, { type FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { presentedToken, secretMatches } from '../config/secret.js';
import type { SloLoop } from './loop.js';
import { STATUS_PAGE } from './page.js';
import type { WeightsSnapshotJson } from './publisher.js';
import { providerHealth, statusView } from './status.js';

export interface SloServerOptions {
  /** slo.token: required by everything but /healthz, as a Bearer token or a Basic password. */
  token?: string;
  /** The config version in force, for /api/status. */
  configVersion?: () => number;
}

/**
 * Everything but /healthz answers 401 without the token. The challenge is Basic so a browser
 * opening the status page asks for it (any user name, the token as password) and sends it again
 * with the page's own /api/status fetches; gateways and scripts send `Bearer`.
 */
function guard(app: FastifyInstance, token: string): void {
  app.addHook('onRequest', (req, reply, done) => {
    if (req.url === '/healthz' || secretMatches(presentedToken(req.headers.authorization), token)) return done();
    reply.code(401).header('www-authenticate', 'Basic realm="Keel SLO engine", charset="UTF-8"').type('text/plain; charset=utf-8').send('the SLO engine needs its token (slo.token): Authorization: Bearer …\n');
  });
}

/** The SLO engine's HTTP face: the status page, its JSON API. */
export function buildSloServer(loop: SloLoop, client: ClickHouseClient, weights?: () => WeightsSnapshotJson, o: SloServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false });
  if (o.token !== undefined) guard(app, o.token);
  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));
  app.get('/api/status', async () => {
    const snap = loop.latest;
    return statusView(snap, await providerHealth(client, snap.at || Date.now()).catch(() => []), weights?.(), o.configVersion?.());
  });
  if (weights !== undefined) app.get('/api/weights', () => weights());
  return app;
}
