import { KeelError } from '../errors.js';
import { clip } from '../redact.js';
import type { StageFactory } from './types.js';

/**
 * Which routes a key may call (auth.keys[].routes, names or globs). Who the caller is was
 * settled in onRequest, before the body was read (gateway/http/auth.ts: unknown, expired and
 * disabled keys are 401 there); the route is known only once the body is, so this check is a stage.
 */
export const authStage: StageFactory = (runtime) => {
  if (runtime.clientKeys === undefined || ![...runtime.clientKeys.values()].some((k) => k.config.routes !== undefined)) return undefined;
  return {
    name: 'auth',
    policy: 'fail-closed',
    pre: ({ call, route }) => {
      const client = call.client;
      if (client === undefined || client.mayCall(route.name)) return undefined;
      throw new KeelError('KEEL_ROUTE_FORBIDDEN', `The key \`${clip(client.id)}\` may not call the model \`${route.name}\`. Ask the gateway's operator to add it to the key's routes.`, { param: 'model' });
    },
  };
};
