import type { ResolvedRoute, Runtime } from '../runtime/resolve.js';
import { authStage } from './auth.js';
import { cacheStage } from './cache.js';
import { guardrailStage } from './guardrails.js';
import { quotaStage } from './quota.js';
import type { Stage, StageFactory } from './types.js';

/**
 * Every stage, in onion order (DESIGN.md §7): pres run top to bottom, posts bottom to top.
 * Adding a stage is one file and one line here.
 */
export const STAGES: readonly StageFactory[] = [authStage, quotaStage, guardrailStage, cacheStage];

const built = new WeakMap<ResolvedRoute, { chat: readonly Stage[]; embeddings: readonly Stage[] }>();

/** The stages of a route in a config snapshot, built once (routes are per snapshot, so a reload rebuilds them). */
export function stagesFor(runtime: Runtime, route: ResolvedRoute, operation: 'chat' | 'embeddings' = 'chat'): readonly Stage[] {
  let stages = built.get(route);
  if (stages === undefined) {
    const chat = STAGES.flatMap((make) => make(runtime, route) ?? []);
    stages = { chat, embeddings: chat.filter((s) => s.chatOnly !== true) };
    built.set(route, stages);
  }
  return stages[operation];
}
