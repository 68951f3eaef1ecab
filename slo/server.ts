import Fastify, { type FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import { presentedToken, secretMatches } from '../config/secret.js';
import type { LeadershipInfo, SharedSnapshot } from './leader.js';
import type { SloLoop } from './loop.js';
import { STATUS_PAGE } from './page.js';
import type { WeightsSnapshotJson } from './publisher.js';
import { probeStatus, providerHealth, statusView } from './status.js';

export interface SloServerOptions {
  /** slo.token: required by everything but /healthz, as a Bearer token or a Basic password. */
  token?: string;
  /** The config version in force, for /api/status. */
  configVersion?: () => number;
  /** Several collectors: whether this one leads, and the leader's published results a follower serves. */
  leadership?: () => LeadershipInfo;
  shared?: () => Promise<SharedSnapshot | undefined>;
}

/** A follower's answer: the leader's view as published, saying who leads; undefined before any leader has published. */
async function followerView(o: SloServerOptions): Promise<SharedSnapshot | undefined> {
  const snap = await o.shared?.().catch(() => undefined);
  if (snap === undefined) return undefined;
  // Asked after shared(), which reads the lease holder: the current leader, even mid-takeover.
  const leaderId = o.leadership?.().leaderId ?? snap.leaderId;
  return { ...snap, status: { ...snap.status, leader: false, leaderId } };
}

const NO_LEADER = { error: 'no SLO leader has published results yet (another collector holds or is taking the lease)' };

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
  const info = () => o.leadership?.() ?? { leader: true, leaderId: undefined };
  app.get('/api/status', async (_req, reply) => {
    if (!info().leader) {
      const followed = await followerView(o);
      // Probes are read here, from the store every engine shares, not from the leader's published view.
      return followed === undefined ? reply.code(503).send(NO_LEADER) : { ...followed.status, probes: await probeStatus(client, Date.now()).catch(() => []) };
    }
    const snap = loop.latest;
    const view = statusView(snap, await providerHealth(client, snap.at || Date.now()).catch(() => []), weights?.(), o.configVersion?.(), info());
    return { ...view, probes: await probeStatus(client, Date.now()).catch(() => []) };
  });
  if (weights !== undefined) {
    app.get('/api/weights', async (_req, reply) => {
      if (info().leader) return weights();
      const followed = await followerView(o);
      return followed === undefined ? reply.code(503).send(NO_LEADER) : followed.weights;
    });
  }
  return app;
}
