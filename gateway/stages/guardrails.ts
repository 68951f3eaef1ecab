import { KeelError } from '../errors.js';
import { compileGuardrails, guardRequest, guardResponse, StreamGuard, type CompiledGuardrails, type CompiledRule, type Finding } from '../guardrails/index.js';
import type { CompletedRequest } from '../pipeline/record.js';
import type { ClientIdentity, Runtime } from '../runtime/resolve.js';
import type { StageFactory } from './types.js';

/**
 * Guardrails (issue 15 §4): the route's rules, then the key's, on the request before any
 * provider sees it (in) and on the answer before the caller does (out, streams included, with a
 * window across chunk boundaries). `block` refuses (400, or an in-band error once a stream has
 * started), `redact` replaces the match, `log` only counts. Verdicts — rule, action, count, never
 * the matched text — go on the record (span attributes and a metric).
 */
const compiled = new WeakMap<Runtime, CompiledGuardrails>();

function rulesOf(runtime: Runtime): CompiledGuardrails {
  let c = compiled.get(runtime);
  if (c === undefined) {
    c = compileGuardrails(runtime.config.guardrails);
    compiled.set(runtime, c);
  }
  return c;
}

function blocked(rule: string, detector: string, where: 'request' | 'answer'): KeelError {
  return new KeelError('KEEL_GUARDRAIL_BLOCKED', `The ${where} was blocked by the guardrail \`${rule}\` (${detector}).`);
}

function note(rec: CompletedRequest, direction: 'in' | 'out', findings: readonly Finding[]): void {
  for (const f of findings) rec.guardrails.push({ direction, rule: f.rule, detector: f.detector, action: f.action, count: f.count });
}

export const guardrailStage: StageFactory = (runtime, route) => {
  const routeRules = runtime.config.routes[route.name]?.guardrails ?? [];
  const anyKeyRules = runtime.config.auth?.keys.some((k) => k.guardrails.length > 0) === true;
  if (routeRules.length === 0 && !anyKeyRules) return undefined;
  const rules = rulesOf(runtime);
  // Which rules a client's requests pass depends only on the route's and the key's names, both per snapshot like this stage: selected once per client.
  const selected = new WeakMap<ClientIdentity, Selected>();
  const anonymous = selectRules(rules, routeRules, []);
  const rulesFor = (client: ClientIdentity | undefined): Selected => {
    if (client === undefined) return anonymous;
    let r = selected.get(client);
    if (r === undefined) selected.set(client, (r = selectRules(rules, routeRules, client.config.guardrails)));
    return r;
  };
  return {
    name: 'guardrails',
    // A detector that throws must not let a request through unchecked.
    policy: 'fail-closed',
    chatOnly: true,
    pre: (sr) => {
      const { inbound, outbound } = rulesFor(sr.call.client);
      if (inbound.length > 0) {
        const r = guardRequest(inbound, sr.req);
        note(sr.rec, 'in', r.findings);
        if (r.blocked !== undefined) throw blocked(r.blocked.rule, r.blocked.detector, 'request');
        sr.req = r.req;
      }
      if (outbound.length === 0) return undefined;
      return {
        answer: (res) => {
          const r = guardResponse(outbound, res);
          note(sr.rec, 'out', r.findings);
          if (r.blocked !== undefined) throw blocked(r.blocked.rule, r.blocked.detector, 'answer');
          return r.res;
        },
        stream: () => {
          const guard = new StreamGuard(outbound);
          // A stream refused midway: the verdict is noted here (the guard reports findings only at its end).
          let refused: KeelError | undefined;
          const refuse = (b: { rule: string; detector: string }) => {
            if (refused !== undefined) return refused;
            note(sr.rec, 'out', [{ rule: b.rule, detector: b.detector, action: 'block', count: 1 }]);
            sr.rec.errorCode = 'KEEL_GUARDRAIL_BLOCKED';
            sr.rec.errorClass = 'caller_guardrail';
            refused = blocked(b.rule, b.detector, 'answer');
            return refused;
          };
          return {
            push: (events) => {
              const r = guard.push(events);
              return r.blocked === undefined ? { events: r.events } : { events: r.events, blocked: refuse(r.blocked) };
            },
            end: () => {
              const r = guard.end();
              note(sr.rec, 'out', r.findings.filter((f) => f.action !== 'block'));
              return r.blocked === undefined ? { events: r.events } : { events: r.events, blocked: refuse(r.blocked) };
            },
          };
        },
      };
    },
  };
};

interface Selected {
  inbound: readonly CompiledRule[];
  outbound: readonly CompiledRule[];
}

function selectRules(rules: CompiledGuardrails, routeRules: readonly string[], keyRules: readonly string[]): Selected {
  const names = [...routeRules, ...keyRules];
  return { inbound: rules.select(names, 'in'), outbound: rules.select(names, 'out') };
}
