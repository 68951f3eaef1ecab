import { z } from 'zod';
import { checkSecret } from './secret.js';

/**
 * Who may call what, and how much (issue 15): virtual keys with their team and customer,
 * budgets in USD per period, RPM/TPM limits, and guardrail rules. Everything here is
 * enforced by request stages (gateway/stages/) through the shared state layer, so the
 * numbers hold across replicas.
 */

/**
 * A budget in USD. `calendar` periods reset at 00:00 UTC (day) or on the 1st (month);
 * `rolling` ones count the last 24 h or 30 days, in hourly or daily buckets.
 */
export const budgetSchema = z
  .object({
    usd: z.number().positive(),
    period: z.enum(['day', 'month']).default('month'),
    window: z.enum(['calendar', 'rolling']).default('calendar'),
  })
  .strict();

/**
 * Requests and tokens per minute, enforced with GCRA (a sliding rate, not a fixed window).
 * `burst_s`: how much idle time may be saved up, in seconds of the rate: the default 1 s lets
 * a 600 RPM key send 10 requests at once, and holds any 30 s to within a few percent of the
 * rate. Tokens count what the request may use (input estimate + max output) before the call,
 * reconciled to the real usage after it.
 */
export const limitsSchema = z
  .object({
    rpm: z.number().int().positive().optional(),
    tpm: z.number().int().positive().optional(),
    burst_s: z.number().positive().max(60).default(1),
  })
  .strict();

/** Budgets and limits a team or customer has, shared by all its keys. */
export const principalSchema = z
  .object({
    budgets: z.array(budgetSchema).default([]),
    limits: limitsSchema.optional(),
  })
  .strict();

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 as 64 lowercase hex digits (`keel keys create` prints one)');

export const clientKeySchema = z
  .object({
    id: z.string().min(1),
    /** The key itself (best from the environment: `${KEEL_KEY_X}`), or only its hash below. */
    key: z.string().min(1).optional(),
    /** SHA-256 of the key, so the key itself need not sit in the file. */
    key_sha256: sha256Hex.optional(),
    team: z.string().min(1).optional(),
    customer: z.string().min(1).optional(),
    /** Route names or globs (`chat-*`) this key may call; absent: every route. */
    routes: z.array(z.string().min(1)).min(1).optional(),
    budgets: z.array(budgetSchema).default([]),
    limits: limitsSchema.optional(),
    /** Guardrail rules (by name, under `guardrails:`) applied to this key's requests, after the route's. */
    guardrails: z.array(z.string().min(1)).default([]),
    /** Tags carried on the key's spans (keel.key.meta.<name>). */
    metadata: z.record(z.string().regex(/^[a-z0-9_]{1,32}$/, 'lowercase letters, digits and _'), z.string().max(256)).default({}),
    /** ISO 8601 instant after which the key is refused (401). */
    expires_at: z.string().datetime({ offset: true }).optional(),
    disabled: z.boolean().default(false),
  })
  .strict()
  .superRefine((k, ctx) => {
    if ((k.key === undefined) === (k.key_sha256 === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['key'], message: 'give exactly one of key or key_sha256' });
    }
    if (k.key !== undefined) checkSecret(k.key, ['key'], ctx);
  });

/** What a guardrail looks for: built-in detectors, or a custom regular expression. */
export const DETECTORS = ['secrets', 'email', 'phone', 'payment_card', 'iban'] as const;
export type DetectorName = (typeof DETECTORS)[number];

export const guardrailSchema = z
  .object({
    detect: z.array(z.enum(DETECTORS)).default([]),
    /** Custom patterns, JavaScript syntax, matched case-sensitively unless `flags: i`. */
    patterns: z.array(z.string().min(1)).default([]),
    flags: z.enum(['', 'i']).default(''),
    /** `in`: the request before it reaches a provider; `out`: the answer before it reaches the caller. */
    direction: z.enum(['in', 'out', 'both']).default('both'),
    action: z.enum(['block', 'redact', 'log']),
  })
  .strict()
  .superRefine((g, ctx) => {
    if (g.detect.length === 0 && g.patterns.length === 0) ctx.addIssue({ code: 'custom', path: ['detect'], message: 'a guardrail needs at least one detector or pattern' });
    g.patterns.forEach((p, i) => {
      try {
        new RegExp(p, `g${g.flags}`);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['patterns', i], message: `not a valid regular expression: ${err instanceof Error ? err.message : String(err)}` });
      }
    });
  });

export const authSchema = z
  .object({
    keys: z.array(clientKeySchema).min(1),
    teams: z.record(z.string().min(1), principalSchema).default({}),
    customers: z.record(z.string().min(1), principalSchema).default({}),
  })
  .strict();

export type Budget = z.infer<typeof budgetSchema>;
export type Limits = z.infer<typeof limitsSchema>;
export type Principal = z.infer<typeof principalSchema>;
export type ClientKeyConfig = z.infer<typeof clientKeySchema>;
export type GuardrailConfig = z.infer<typeof guardrailSchema>;
export type AuthConfig = z.infer<typeof authSchema>;
