import type { FastifyRequest } from 'fastify';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../config/secret.js';
import { KeelError } from '../../gateway/errors.js';
import { authenticate } from '../../gateway/http/auth.js';
import { buildRuntime, type ClientIdentity, type Runtime } from '../../gateway/runtime/resolve.js';
import { parseConfig } from '../helpers/harness.js';

/**
 * authenticate's memo of matched keys (per config snapshot) against the lookup it replaced:
 * hash every presented key and look it up in the snapshot's keys, then the same disabled and
 * expiry checks. Same identity or the same refusal, for any sequence of keys and reloads.
 */
const KEYS = ['keel-key-a-0123456789abcdef', 'keel-key-b-0123456789abcdef', 'keel-key-c-0123456789abcdef', 'keel-key-d-0123456789abcdef'];
const KEEPER = 'keel-keeper-0123456789abcdef';
const WRONG = ['keel-wrong-0123456789abcdef', 'keel-key-a-0123456789abcdeF', ''];

interface KeyState {
  present: boolean;
  disabled: boolean;
  expired: boolean;
}

function snapshot(states: readonly KeyState[], version: number): Runtime {
  // One key always there: auth.keys may not be empty.
  const keys = [{ id: 'keeper', key: KEEPER }, ...states.flatMap((s, i) => (s.present ? [{ id: `k${i}`, key: KEYS[i], disabled: s.disabled, ...(s.expired ? { expires_at: '2020-01-01T00:00:00Z' } : {}) }] : []))];
  return buildRuntime(parseConfig({ providers: { p: { type: 'openai', api_key: 'sk-test-0123456789abcdefghij' } }, routes: { r: { targets: [{ provider: 'p', model: 'm' }] } }, auth: { keys } }), version);
}

const request = (key: string): FastifyRequest => ({ headers: { authorization: `Bearer ${key}` } }) as unknown as FastifyRequest;

/** The previous implementation: a SHA-256 and a lookup per request. */
function oracle(runtime: Runtime, key: string): ClientIdentity | string {
  const identity = key.trim() === '' ? undefined : runtime.clientKeys?.get(hashKey(key));
  if (identity === undefined) return 'KEEL_UNAUTHENTICATED';
  if (identity.disabled || (identity.expiresAtMs !== undefined && Date.now() >= identity.expiresAtMs)) return 'KEEL_UNAUTHENTICATED';
  return identity;
}

function outcome(runtime: Runtime, key: string): ClientIdentity | string {
  try {
    return authenticate(request(key), runtime) ?? 'none';
  } catch (err) {
    return err instanceof KeelError ? err.code : String(err);
  }
}

const keyState = fc.record({ present: fc.boolean(), disabled: fc.boolean(), expired: fc.boolean() });
const step = fc.oneof(
  fc.record({ reload: fc.constant(true), states: fc.array(keyState, { minLength: KEYS.length, maxLength: KEYS.length }) }),
  fc.record({ reload: fc.constant(false), key: fc.constantFrom(...KEYS, KEEPER, ...WRONG) }),
);

describe('authenticate with the matched-key memo', () => {
  it('answers as a hash and a lookup per request, across reloads that add, remove, disable and expire keys', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
        let runtime = snapshot(KEYS.map(() => ({ present: true, disabled: false, expired: false })), 0);
        let version = 0;
        for (const s of steps) {
          if (s.reload) runtime = snapshot(s.states, ++version);
          else expect(outcome(runtime, s.key)).toBe(oracle(runtime, s.key));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a key removed by a reload is refused at once, though the old snapshot had it memoised', () => {
    const before = snapshot([{ present: true, disabled: false, expired: false }], 1);
    expect(outcome(before, KEYS[0] ?? '')).toMatchObject({ id: 'k0' });
    expect(outcome(before, KEYS[0] ?? '')).toMatchObject({ id: 'k0' });
    const after = snapshot([{ present: false, disabled: false, expired: false }], 2);
    expect(outcome(after, KEYS[0] ?? '')).toBe('KEEL_UNAUTHENTICATED');
    const disabled = snapshot([{ present: true, disabled: true, expired: false }], 3);
    expect(outcome(disabled, KEYS[0] ?? '')).toBe('KEEL_UNAUTHENTICATED');
  });
});
