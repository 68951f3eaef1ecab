import Fastify, { type FastifyInstance } from 'fastify';
import type { ClickHouseClient } from '@clickhouse/client';
import type { SloLoop } from './loop.js';
import { STATUS_PAGE } from './page.js';
import type { WeightsSnapshotJson } from './publisher.js';
import { providerHealth, statusView } from './status.js';

/** The SLO engine's HTTP face: the status page, its JSON API. */
export function buildSloServer(loop: SloLoop, client: ClickHouseClient, weights?: () => WeightsSnapshotJson): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(STATUS_PAGE));
  app.get('/api/status', async () => {
    const snap = loop.latest;
    return statusView(snap, await providerHealth(client, snap.at || Date.now()).catch(() => []), weights?.());
  });
  if (weights !== undefined) app.get('/api/weights', () => weights());
  return app;
}
