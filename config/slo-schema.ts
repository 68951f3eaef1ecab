import { z } from 'zod';
import { checkSecret } from './secret.js';

/** `30d`, `28d`, `6h`, `90m`: a duration the SLO engine works in (milliseconds). */
const DURATION = /^(\d+)(m|h|d|w)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (m === null) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const duration = z.string().regex(DURATION, 'a duration such as 30d, 28d, 6h or 90m');

const latencySli = z
  .object({
    /** Which latency: time to first token (streams), whole-request duration, or mean inter-token gap. */
    latency: z.enum(['ttft', 'duration', 'itl']),
    /** Good when at or under this many ms (rounded down to the engine's bucket ladder). */
    threshold_ms: z.number().positive(),
  })
  .strict();

export const sloSpecSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/, 'letters, digits, ".", "_" and "-" only'),
    description: z.string().optional(),
    /** Percent of good events over the window, e.g. 99.9. */
    objective: z.number().gt(0).lt(100),
    window: duration.default('30d'),
    /** `availability`: the request succeeded as the caller saw it (caller faults excluded). */
    sli: z.union([z.literal('availability'), latencySli]),
    scope: z
      .object({ route: z.string().optional(), provider: z.string().optional(), model: z.string().optional(), key: z.string().optional(), team: z.string().optional() })
      .strict()
      .default({}),
    /** Burn-rate alerts need at least this many events in the long window (low-traffic guard). */
    min_events: z.number().int().min(0).default(10),
    /** Fire an `absent` alert when the SLI has had no events for this long (off when unset). */
    absent_after: duration.optional(),
  })
  .strict();

const receiverSchema = z.discriminatedUnion('type', [
  /** Prometheus Alertmanager API v2: re-sent while firing, `endsAt` on resolve. */
  z.object({ type: z.literal('alertmanager'), url: z.url({ protocol: /^https?$/ }) }).strict(),
  /** Generic JSON webhook: one POST per transition (firing, resolved), retried until accepted. */
  z.object({ type: z.literal('webhook'), url: z.url({ protocol: /^https?$/ }), headers: z.record(z.string(), z.string()).optional() }).strict(),
  /** Slack-compatible incoming webhook: `{text}` per transition. */
  z.object({ type: z.literal('slack'), url: z.url({ protocol: /^https?$/ }) }).strict(),
]);

export const alertingSchema = z
  .object({
    /** A condition must hold this long before the alert fires. */
    pending_s: z.number().min(0).default(60),
    /** Alertmanager re-send period while firing (Prometheus default: 1 m). */
    resend_s: z.number().positive().default(60),
    receivers: z.array(receiverSchema).default([]),
  })
  .strict();

export const sloBlockSchema = z
  .object({
    version: z.literal(1).default(1),
    /** How often the engine evaluates every SLO. */
    interval_s: z.number().positive().default(30),
    /** With no objectives declared: availability 99.5 % and TTFT ≤ 2 s for 95 % per route, so budgets show at once. */
    defaults: z.boolean().default(true),
    objectives: z.array(sloSpecSchema).default([]),
    alerting: alertingSchema.default(() => alertingSchema.parse({})),
    adaptive: z
      .object({
        /** Short and long windows of each target's own attempt error ratio. */
        short: duration.default('5m'),
        long: duration.default('1h'),
        /** No target goes below this share of its weight: probe traffic keeps showing recovery. */
        floor: z.number().min(0).max(1).default(0.05),
        /** A weight climbs back by at most this much per evaluation (drops are immediate). */
        max_step: z.number().gt(0).max(1).default(0.25),
        /** Changes smaller than this are ignored, so weights do not oscillate. */
        hysteresis: z.number().min(0).max(1).default(0.05),
        /** Attempts needed in the short window before a target's weight moves. */
        min_attempts: z.number().int().min(1).default(20),
        /** Operator overrides: `route|provider|model` → fixed multiplier. */
        pins: z.record(z.string().regex(/^[^|]+\|[^|]+\|[^|]+$/, 'route|provider|model'), z.number().min(0)).default({}),
      })
      .strict()
      .default(() => ({ short: '5m', long: '1h', floor: 0.05, max_step: 0.25, hysteresis: 0.05, min_attempts: 20, pins: {} })),
    /** Where the SLO engine serves its status page, JSON API and routing weights. */
    port: z.number().int().min(0).max(65535).default(4319),
    /** Where gateways poll routing weights, when the SLO engine runs elsewhere (default: the collector host, this port). */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** Bearer token (or Basic password, for browsers) for the status page and /api/*; required beyond loopback. Gateways send it with weights polls. */
    token: z.string().optional(),
  })
  .strict()
  .superRefine((block, ctx) => {
    if (block.token !== undefined) checkSecret(block.token, ['token'], ctx);
    const seen = new Set<string>();
    block.objectives.forEach((o, i) => {
      if (seen.has(o.name)) ctx.addIssue({ code: 'custom', path: ['objectives', i, 'name'], message: `duplicate SLO name "${o.name}"` });
      seen.add(o.name);
    });
  });

export type SloSpec = z.infer<typeof sloSpecSchema>;
export type SloBlock = z.infer<typeof sloBlockSchema>;
export type AlertingConfig = z.infer<typeof alertingSchema>;
export type AdaptiveConfig = SloBlock['adaptive'];
export type ReceiverConfig = z.infer<typeof receiverSchema>;
