import { z } from 'zod';

/**
 * Active health checks (synthetic probes) of idle targets: gateway/probes. Settable on a
 * provider (every target of it) and on a target (which overrides its provider field by
 * field), so every field is optional here and the defaults are applied once, on resolve.
 */
export const healthCheckSchema = z
  .object({
    /**
     * Seconds between two probes of one target. 60 s finds a dead fallback within ~3 minutes
     * (3 failures of the last 5 open it) for ~120 tokens an hour; fractional values are for
     * tests and local runs, and 50 ms is the floor below which a probe would be a load test.
     */
    interval_s: z.number().min(0.05).max(86_400).optional(),
    /** One probe's whole deadline; a probe that takes longer fails (provider_timeout). */
    timeout_ms: z.number().int().positive().max(120_000).optional(),
    /** Probe only a target that had no real traffic within the interval (traffic already says how it is). */
    only_when_idle: z.boolean().optional(),
    /** `chat`: a one-token completion (a few tokens each); `models`: GET the model list (no tokens, proves less). */
    method: z.enum(['chat', 'models']).optional(),
  })
  .strict();

export type HealthCheckConfig = z.infer<typeof healthCheckSchema>;

export type EffectiveHealthCheck = Required<HealthCheckConfig>;

export const DEFAULT_HEALTH_CHECK: EffectiveHealthCheck = { interval_s: 60, timeout_ms: 5000, only_when_idle: true, method: 'chat' };

/** The target's health check: its own fields over its provider's over the defaults; undefined when neither sets one. */
export function effectiveHealthCheck(provider: HealthCheckConfig | undefined, target: HealthCheckConfig | undefined): EffectiveHealthCheck | undefined {
  if (provider === undefined && target === undefined) return undefined;
  return { ...DEFAULT_HEALTH_CHECK, ...provider, ...target };
}
