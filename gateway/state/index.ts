/**
 * gateway/state: what gateway replicas share (DESIGN.md §9). `openState(config)` gives the
 * in-process backend for one replica, or Redis (behind ResilientState: a deadline on every
 * call and local state while Redis is away, and local leases in front: leases.ts) when
 * `state.redis` is configured.
 */
import type { StateConfig } from '../../config/schema.js';
import { MemoryState } from './memory.js';
import { RedisState } from './redis.js';
import { LeasedState } from './leases.js';
import { ResilientState } from './resilient.js';
import type { GovernanceState } from './types.js';

export type { AdmitResult, GovernanceState, RateResult, RateScope, RateState, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, SharedState, StateHealth } from './types.js';
export { MemoryState } from './memory.js';
export { RedisState } from './redis.js';
export { ResilientState } from './resilient.js';
export { LeasedState } from './leases.js';

export function openState(cfg: StateConfig | undefined, log: (msg: string) => void): GovernanceState {
  if (cfg?.redis === undefined) return new MemoryState();
  const remote = new RedisState({ url: cfg.redis.url, commandTimeoutMs: cfg.redis.deadline_ms, keyPrefix: cfg.redis.key_prefix });
  const resilient = new ResilientState(remote, { log });
  return cfg.redis.leases ? new LeasedState(resilient, { log }) : resilient;
}
