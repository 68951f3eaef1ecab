import type { ChatRequest } from '../formats/canonical.js';
import { estimateInputTokens } from '../stages/estimate.js';

/** What routing rules may look at in one request, built once per request (rules.ts reads only this). */
export interface RequestFacts {
  /** Request headers by lower-case name; one sent twice is its values joined by ", " (RFC 9110 §5.3). */
  headers: Readonly<Record<string, string | undefined>>;
  /** The body's `metadata` object: string, number and boolean fields as text. */
  metadata: Readonly<Record<string, string | undefined>>;
  user: string | undefined;
  /** The caller's key id and team (auth.keys); undefined on an open gateway. */
  key: string | undefined;
  team: string | undefined;
  /** Estimated input tokens (the estimate budgets and TPM use). */
  inputTokens: number;
}

/** The parts of a call the facts come from (CallContext's fields of the same names). */
export interface FactSources {
  requestHeaders?: Readonly<Record<string, string | string[] | undefined>> | undefined;
  client: { id: string; team: string | undefined } | undefined;
}

export function requestFacts(call: FactSources, req: ChatRequest): RequestFacts {
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, v] of Object.entries(call.requestHeaders ?? {})) {
    if (v !== undefined) headers[name.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { headers, metadata: metadataOf(req.original.body.metadata), user: req.user, key: call.client?.id, team: call.client?.team, inputTokens: estimateInputTokens(req) };
}

function metadataOf(raw: unknown): Record<string, string> {
  // A null prototype: a field named like an Object.prototype member is only ever the caller's.
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return out;
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return out;
}
