import { spawnSync } from 'node:child_process';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../config/secret.js';
import { keyEntry, newClientKey } from '../../cli/commands/keys.js';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';
import { keelBin } from '../helpers/procs.js';

/** Virtual keys (issue 15 §1): routes by name or glob, expiry, disabled, hashed keys, team and customer on the record. */
const PLAIN = 'keel-plain-key-0123456789abcdef';
const HASHED = newClientKey();
const EXPIRED = 'keel-expired-key-0123456789abcd';
const DISABLED = 'keel-disabled-key-0123456789abc';

describe('virtual keys', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      config: (url) => ({
        ...baseConfig(url),
        auth: {
          keys: [
            { id: 'plain', key: PLAIN, team: 'search', customer: 'acme', routes: ['gpt-*'], metadata: { env: 'prod' } },
            { ...keyEntry(HASHED, { id: 'hashed', team: 'ml' }) },
            { id: 'old', key: EXPIRED, expires_at: '2020-01-01T00:00:00Z' },
            { id: 'off', key: DISABLED, disabled: true },
          ],
        },
      }),
    });
  });
  afterAll(() => h.close());
  const messages = [{ role: 'user' as const, content: 'hi' }];

  it('a key may call the routes its globs match, and gets 403 in the caller’s format elsewhere', async () => {
    const oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: PLAIN, maxRetries: 0 });
    await expect(oai.chat.completions.create({ model: 'gpt-sim', messages })).resolves.toBeDefined();
    const err = await oai.chat.completions.create({ model: 'claude-sim', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as Error).message).toMatch(/may not call the model `claude-sim`/);
    const ant = new Anthropic({ baseURL: h.url, apiKey: PLAIN, maxRetries: 0 });
    const antErr = await ant.messages.create({ model: 'claude-sim', max_tokens: 10, messages }).catch((e: unknown) => e);
    expect(antErr).toBeInstanceOf(Anthropic.PermissionDeniedError);
    expect(((antErr as InstanceType<typeof Anthropic.APIError>).error as { error: { type: string } }).error.type).toBe('permission_error');
    const rec = await eventually(() => h.records.find((r) => r.errorCode === 'KEEL_ROUTE_FORBIDDEN'));
    expect(rec.errorClass).toBe('caller_forbidden');
    // Nothing reached a provider for the refused request.
    expect(rec.attempts).toHaveLength(0);
  });

  it('team and customer are on the record, never the key', async () => {
    const rec = await eventually(() => h.records.find((r) => r.clientId === 'plain' && r.status === 200));
    expect(rec.team).toBe('search');
    expect(JSON.stringify(rec)).not.toContain(PLAIN);
  });

  it('config may hold only the key’s SHA-256', async () => {
    expect(keyEntry(HASHED, { id: 'hashed', team: 'ml' }).key_sha256).toBe(hashKey(HASHED));
    const oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: HASHED, maxRetries: 0 });
    await expect(oai.chat.completions.create({ model: 'claude-sim', messages })).resolves.toBeDefined();
  });

  it('an expired or disabled key is 401, saying which', async () => {
    for (const [key, why] of [[EXPIRED, /expired at 2020-01-01T00:00:00.000Z/], [DISABLED, /disabled/]] as const) {
      const err = await new OpenAI({ baseURL: `${h.url}/v1`, apiKey: key, maxRetries: 0 }).chat.completions.create({ model: 'gpt-sim', messages }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((err as Error).message).toMatch(why);
    }
  });
});

describe('keel keys create', () => {
  it('prints a strong key once and a config entry holding only its hash', () => {
    const res = spawnSync(process.execPath, [keelBin, 'keys', 'create', '--team', 'search', '--id', 'search-app', '--routes', 'chat,batch-*'], { encoding: 'utf8' });
    expect(res.status).toBe(0);
    const key = /^\s+(keel_[A-Za-z0-9_-]{43})$/m.exec(res.stdout)?.[1] ?? '';
    expect(key).not.toBe('');
    expect(res.stdout).toContain(`key_sha256: ${hashKey(key)}`);
    expect(res.stdout.split(key)).toHaveLength(2);
    expect(res.stdout).toMatch(/routes:\n\s+- chat\n\s+- batch-\*/);
    expect(newClientKey()).not.toBe(newClientKey());
  });

  it('says how to use it when the team is missing', () => {
    const res = spawnSync(process.execPath, [keelBin, 'keys', 'create'], { encoding: 'utf8' });
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/--team TEAM/);
  });
});
