/**
 * gateway/stages: cross-cutting request work as stages around the attempt loop (DESIGN.md §7):
 * auth (route access) → quota (RPM/TPM limits and budgets: one state call before, one after) →
 * guardrails (in, out) → cache (a hit answers; a miss is stored; stale answers when every target fails).
 * `stagesFor` lists a route's stages from the registry, `runStages` runs them, `outboundOf`
 * composes what they do to answers on the way out.
 */
export { STAGES, stagesFor } from './registry.js';
export { runStages } from './runner.js';
export { outboundOf } from './outbound.js';
export type { Stage, StageAfter, StageFactory, StageOutcome, StageRequest, StreamFilter } from './types.js';
