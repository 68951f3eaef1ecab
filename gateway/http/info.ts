import type { FastifyInstance } from 'fastify';
import type { Runtime } from '../runtime/resolve.js';
import type { StateHealth } from '../state/types.js';
import { listensOnLoopback } from './metrics.js';
import { extend } from '../objects.js';

/** Model listing in both SDKs' shapes, and health probes. */
/** No shared store configured: one replica, its state in process. */
const IN_PROCESS: StateHealth = { backend: 'memory', degraded: false, since: undefined, fallbacks: 0, pendingResync: 0 };

export function registerInfoRoutes(app: FastifyInstance, runtime: () => Runtime, draining: () => boolean = () => false, stateHealth: () => StateHealth = () => IN_PROCESS): void {
  const started = Math.floor(Date.now() / 1000);

  app.get('/v1/models', async (request) => {
    const names = [...runtime().routes.keys()];
    // The Anthropic SDK always sends anthropic-version; answer it in its own list shape.
    if (request.headers['anthropic-version'] !== undefined) {
      const createdAt = new Date(started * 1000).toISOString();
      return {
        data: names.map((id) => ({ type: 'model', id, display_name: id, created_at: createdAt })),
        has_more: false,
        first_id: names[0] ?? null,
        last_id: names[names.length - 1] ?? null,
      };
    }
    return { object: 'list', data: names.map((id) => ({ id, object: 'model', created: started, owned_by: 'keel' })) };
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    // From the first moment of a shutdown: load balancers stop sending here while in-flight requests finish.
    if (draining()) return reply.code(503).send({ status: 'shutting_down' });
    const rt = runtime();
    const h = stateHealth();
    // Degraded sharing is reported, not failed: this replica still serves every request (DESIGN.md §9).
    const state = { backend: h.backend, degraded: h.degraded, ...(h.since === undefined ? {} : { degraded_since: new Date(h.since).toISOString() }) };
    const ready = { status: 'ready', config_version: rt.version, routes: rt.routes.size, state };
    // Only server.allow_unauthenticated gets a gateway here; the probe keeps saying so where operators look.
    if (rt.clientKeys === undefined && !listensOnLoopback(app.server)) {
      return extend(ready, { warning: 'no client keys (auth.keys) on a non-loopback address: any caller can use this gateway (server.allow_unauthenticated)' });
    }
    return ready;
  });
}
