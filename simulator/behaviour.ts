import { z } from 'zod';

/**
 * How a simulated model behaves. snake_case because the same shape appears in
 * YAML (keel.yaml simulator blocks, demo configs). Faults:
 * - rate_limit / server_error / overloaded / context_length / content_policy: an error response
 * - reset: the socket is destroyed before any response header
 * - hang: the request is accepted and never answered
 * - stall: a stream sends `after_tokens` tokens, then goes silent (non-stream: hangs)
 * - cut: a stream sends `after_tokens` tokens, then the socket is destroyed (non-stream: half the body, then the same)
 * - malformed: one unparsable `data:` line after `after_tokens` tokens, then a normal end
 * - no_done: the complete answer without the end marker (`[DONE]` / `message_stop`)
 * - reject_prefill: a request ending in an assistant message (a prefill) gets 400; others are answered
 * - body_stall: non-stream: headers and the first third of the JSON body, then silence (stream: like stall)
 * - huge_line: stream: after `after_tokens` tokens, one `data:` line of `bytes` bytes, then a normal end;
 *   non-stream: the answer padded to `bytes` bytes. Sent in chunks without content-length, as a
 *   runaway provider would, so only the reader's own limit stops it
 * - huge_error: an error response (`status`, default 500) whose body is `bytes` bytes long
 * Embeddings take the non-stream forms of cut, body_stall, huge_line and huge_error too.
 * `bytes` defaults to 2 MiB. `hang` is the provider that accepts the connection and sends nothing at all.
 * `times` limits the fault to the model's first N requests, then it answers normally.
 */
export const FAULTS = ['none', 'rate_limit', 'server_error', 'overloaded', 'reset', 'hang', 'stall', 'cut', 'malformed', 'no_done', 'context_length', 'content_policy', 'reject_prefill', 'body_stall', 'huge_line', 'huge_error'] as const;
export type Fault = (typeof FAULTS)[number];

const base = z
  .object({
    answer: z.enum(['auto', 'text', 'tool']).optional(),
    text: z.string().min(1).optional(),
    tokens: z.number().int().min(1).max(1_000_000).optional(),
    /** Delay before a non-streaming answer; a stream's first token too, when ttft_ms is not set. */
    latency_ms: z.number().min(0).optional(),
    ttft_ms: z.number().min(0).optional(),
    itl_ms: z.number().min(0).optional(),
    headers_delay_ms: z.number().min(0).optional(),
    fault: z.enum(FAULTS).optional(),
    retry_after_s: z.number().min(0).optional(),
    status: z.number().int().min(400).max(599).optional(),
    after_tokens: z.number().int().min(0).optional(),
    /** Size of what huge_line / huge_error send (1 GiB at most: the simulator writes it lazily, never holds it). */
    bytes: z.number().int().min(1).max(1024 * 1024 * 1024).optional(),
    error_rate: z.number().min(0).max(1).optional(),
    error_status: z.number().int().min(400).max(599).optional(),
    times: z.number().int().min(0).optional(),
  })
  .strict();

export const behaviourSpec = base.extend({
  schedule: z.array(z.object({ duration_ms: z.number().positive(), behaviour: base }).strict()).optional(),
});

export type BehaviourSpec = z.infer<typeof behaviourSpec>;
export type Behaviour = z.infer<typeof base>;

export function validateBehaviour(spec: unknown, model: string): BehaviourSpec {
  const r = behaviourSpec.safeParse(spec);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Error(`simulator behaviour for "${model}": ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim());
}

/** `name;key=value;…` → a behaviour over `fallback` (numbers parsed; everything else kept as text). */
export function parseModelName(model: string, fallback: BehaviourSpec): BehaviourSpec | undefined {
  const [, ...pairs] = model.split(';');
  if (pairs.length === 0) return undefined;
  const spec: Record<string, unknown> = { ...fallback };
  for (const pair of pairs) {
    const [key, value = ''] = pair.split('=');
    if (key === undefined || key === '') continue;
    spec[key] = value !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return validateBehaviour(spec, model);
}

/** The behaviour in force `elapsedMs` after the model was registered: a schedule phase, else the spec itself. */
export function behaviourAt(spec: BehaviourSpec, elapsedMs: number): Behaviour {
  const { schedule, ...own } = spec;
  let t = 0;
  for (const phase of schedule ?? []) {
    t += phase.duration_ms;
    if (elapsedMs < t) return { ...own, ...phase.behaviour };
  }
  return own;
}
