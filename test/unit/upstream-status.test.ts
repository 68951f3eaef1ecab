import { describe, expect, it } from 'vitest';
import { formats } from '../../gateway/formats/index.js';
import { retryAfterMs, upstreamStatusError } from '../../gateway/upstream/status.js';
import { transportError } from '../../gateway/upstream/send.js';

const oai = formats['openai-chat'];
const body = (message: string, code?: string) => JSON.stringify({ error: { message, type: 'invalid_request_error', code } });

describe('upstream status mapping', () => {
  it.each([
    [400, 'KEEL_UPSTREAM_REJECTED', 400, 'caller_rejected'],
    // Keel chose the model and endpoint: a provider 404 is the target's configuration.
    [404, 'KEEL_UPSTREAM_ERROR', 502, 'provider_rejected'],
    [422, 'KEEL_UPSTREAM_REJECTED', 422, 'caller_rejected'],
    [401, 'KEEL_UPSTREAM_AUTH', 502, 'provider_credential'],
    [403, 'KEEL_UPSTREAM_AUTH', 502, 'provider_credential'],
    [429, 'KEEL_UPSTREAM_RATE_LIMITED', 429, 'provider_rate_limit'],
    [500, 'KEEL_UPSTREAM_ERROR', 502, 'provider_error'],
    [502, 'KEEL_UPSTREAM_ERROR', 502, 'provider_error'],
    [503, 'KEEL_UPSTREAM_UNAVAILABLE', 503, 'provider_unavailable'],
    [529, 'KEEL_UPSTREAM_UNAVAILABLE', 503, 'provider_unavailable'],
    [504, 'KEEL_UPSTREAM_TIMEOUT', 504, 'provider_timeout'],
  ])('HTTP %i → %s (%i, %s)', (status, code, callerStatus, cls) => {
    const err = upstreamStatusError(status, body('boom', 'x'), oai, 'p1');
    expect(err.code).toBe(code);
    expect(err.status).toBe(callerStatus);
    expect(err.errorClass).toBe(cls);
  });

  it('relays the provider reason and code on a rejection', () => {
    const err = upstreamStatusError(400, body('maximum context length is 8192', 'context_length_exceeded'), oai, 'p1');
    expect(err.message).toBe('maximum context length is 8192');
    expect(err.upstreamCode).toBe('context_length_exceeded');
  });

  it('points the operator at the key when the provider refuses it, without a secret', () => {
    const err = upstreamStatusError(401, body('Incorrect API key provided: sk-abc***xyz'), oai, 'openai');
    expect(err.message).toContain('providers.openai.api_key');
    expect(err.message).not.toContain('sk-abc');
  });

  it('tolerates a body that is not JSON', () => {
    expect(upstreamStatusError(500, '<html>bad gateway</html>', oai, 'p').message).toMatch(/HTTP 500/);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs('0.5')).toBe(500);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it('classifies transport failures', () => {
    expect(transportError(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'p').code).toBe('KEEL_UPSTREAM_TIMEOUT');
    expect(transportError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'p').code).toBe('KEEL_UPSTREAM_TIMEOUT');
    expect(transportError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'p').code).toBe('KEEL_UPSTREAM_UNAVAILABLE');
    expect(transportError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }), 'p').code).toBe('KEEL_UPSTREAM_ERROR');
  });
});
