import type { ErrorClass } from '../errors.js';
import { formats } from '../formats/index.js';
import { countsAgainstTarget } from '../routing/classify.js';
import type { ResolvedTarget } from '../runtime/resolve.js';

/**
 * What one probe says of its target: `ok`; `failed` (a failure real attempts would charge to
 * the target, countsAgainstTarget); `inconclusive` (the probe's own fault, a 4xx about its
 * request or Keel failing to build it: no verdict, as a caller's mistake is never a provider's).
 */
export type ProbeOutcome = 'ok' | 'failed' | 'inconclusive';

export function outcomeOf(cls: ErrorClass | undefined): ProbeOutcome {
  if (cls === undefined) return 'ok';
  return countsAgainstTarget(cls) ? 'failed' : 'inconclusive';
}

/** The one message a chat probe sends: 1 token by the simulator's count (4 characters a token), a handful by real tokenizers. */
export const PROBE_MESSAGE = 'ping';

/**
 * The cheapest chat request there is, as the target's own format writes it: one short user
 * message, at most one token back, no stream. Built the way a caller's request is, through the
 * canonical request and the target format's buildRequest, so a probe exercises the same mapping.
 */
export function probeChatBody(target: ResolvedTarget): Record<string, unknown> {
  const req = formats['openai-chat'].parseRequest({ model: target.model, messages: [{ role: 'user', content: PROBE_MESSAGE }], max_tokens: 1 });
  return formats[target.provider.adapter.format].buildRequest(req, target.model, { forceStreamUsage: false });
}

/** Outcomes a target's breakers are judged on: the last WINDOW probes, FAILURES of them failed. */
export const WINDOW = 5;
export const FAILURES = 3;

/**
 * The last WINDOW conclusive probe outcomes of one target. 3 of 5 rather than 1 of 1: one
 * lost probe (a blip, a slow connect) must not empty a route of its fallback; 3 in a row
 * would never trip a target that fails every other time.
 */
export class ProbeWindow {
  readonly #last: boolean[] = [];

  push(ok: boolean): void {
    this.#last.push(ok);
    if (this.#last.length > WINDOW) this.#last.shift();
  }

  get failures(): number {
    return this.#last.filter((ok) => !ok).length;
  }

  /** The latest probe failed and FAILURES of the window did: time to open the target's breakers. */
  get dead(): boolean {
    return this.#last.at(-1) === false && this.failures >= FAILURES;
  }

  /** The target is back (a probe closed its breaker): old failures are history. */
  reset(): void {
    this.#last.length = 0;
  }

  get size(): number {
    return this.#last.length;
  }
}
