import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, startHarness, type Harness } from '../helpers/harness.js';

/** Bad input gets a clear 4xx in the caller's API format, and the gateway keeps answering. */
describe('bad input', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: (url) => ({ ...baseConfig(url), server: { body_limit_bytes: 4096 } }) });
  });
  afterAll(() => h.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${h.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  async function expectOpenAIError(res: Response, status: number, type: string, code?: string): Promise<string> {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { message: string; type: string; code: string | null; param: string | null } };
    expect(body.error.type).toBe(type);
    if (code !== undefined) expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(10);
    return body.error.message;
  }

  async function expectAnthropicError(res: Response, status: number, type: string): Promise<string> {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.type).toBe(type);
    return body.error.message;
  }

  const cases: { name: string; path: string; body: string; status: number; openai?: string; anthropic?: string; match: RegExp }[] = [
    { name: 'malformed JSON', path: '/v1/chat/completions', body: '{"model": "gpt-sim", ', status: 400, openai: 'invalid_request_error', match: /not valid JSON/ },
    { name: 'malformed JSON (Anthropic)', path: '/v1/messages', body: '{nope', status: 400, anthropic: 'invalid_request_error', match: /not valid JSON/ },
    { name: 'empty body', path: '/v1/chat/completions', body: '', status: 400, openai: 'invalid_request_error', match: /empty/ },
    { name: 'messages wrong type', path: '/v1/chat/completions', body: '{"model":"gpt-sim","messages":"hi"}', status: 400, openai: 'invalid_request_error', match: /messages/ },
    { name: 'model wrong type', path: '/v1/chat/completions', body: '{"model":5,"messages":[{"role":"user","content":"x"}]}', status: 400, openai: 'invalid_request_error', match: /model/ },
    { name: 'max_tokens missing (Anthropic)', path: '/v1/messages', body: '{"model":"claude-sim","messages":[{"role":"user","content":"x"}]}', status: 400, anthropic: 'invalid_request_error', match: /max_tokens/ },
    { name: 'unknown route', path: '/v1/chat/completions', body: '{"model":"ghost","messages":[{"role":"user","content":"x"}]}', status: 404, openai: 'not_found_error', match: /ghost/ },
    { name: 'unknown route (Anthropic)', path: '/v1/messages', body: '{"model":"ghost","max_tokens":5,"messages":[{"role":"user","content":"x"}]}', status: 404, anthropic: 'not_found_error', match: /ghost/ },
    { name: 'embeddings input wrong type', path: '/v1/embeddings', body: '{"model":"embed","input":{"a":1}}', status: 400, openai: 'invalid_request_error', match: /input/ },
    { name: 'embeddings on a route without embeddings', path: '/v1/embeddings', body: '{"model":"claude-sim","input":"x"}', status: 400, openai: 'invalid_request_error', match: /embeddings/ },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status}`, async () => {
      const res = await post(c.path, c.body);
      const message = c.openai !== undefined ? await expectOpenAIError(res, c.status, c.openai) : await expectAnthropicError(res, c.status, c.anthropic ?? '');
      expect(message).toMatch(c.match);
    });
  }

  it('oversize body → 413 in the caller format, naming the limit', async () => {
    const big = JSON.stringify({ model: 'gpt-sim', messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    expect(await expectOpenAIError(await post('/v1/chat/completions', big), 413, 'invalid_request_error')).toMatch(/4096 bytes/);
    expect(await expectAnthropicError(await post('/v1/messages', big), 413, 'request_too_large')).toMatch(/4096 bytes/);
  });

  it('accepts JSON sent with a non-JSON content type (curl default)', async () => {
    const res = await post('/v1/chat/completions', '{"model":"gpt-sim","messages":[{"role":"user","content":"x"}]}', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(res.status).toBe(200);
  });

  it('unknown path → 404 in OpenAI format', async () => {
    await expectOpenAIError(await post('/v1/completions-nope', '{}'), 404, 'not_found_error');
  });

  it('still answers after all of the above', async () => {
    const res = await post('/v1/chat/completions', '{"model":"gpt-sim","messages":[{"role":"user","content":"still alive?"}]}');
    expect(res.status).toBe(200);
    const health = await fetch(`${h.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });
});
