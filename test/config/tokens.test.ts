import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigIssues, loadConfigText } from '../../config/index.js';
import { isLoopbackHost, presentedToken, secretMatches } from '../../config/secret.js';
import { providerRules } from '../../gateway/providers/index.js';

/** telemetry.collector.token and slo.token: required beyond loopback, and held to the client-key rules. */
const BASE = `providers: { p: { type: openai, api_key: k } }
routes: { chat: { targets: [{ provider: p, model: m }] } }
`;

function load(tail: string, env: Record<string, string> = {}) {
  return loadConfigText(BASE + tail, 'keel.yaml', { ...providerRules, env });
}

function problems(tail: string, env: Record<string, string> = {}): string {
  try {
    load(tail, env);
  } catch (err) {
    if (err instanceof ConfigError) return formatConfigIssues(err.issues);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

const TOKEN = 'f3a9c1d07b2e4c58a6d1e0b97c3f2a41';

describe('collector and SLO tokens in the config', () => {
  it('loopback listeners need no token (keel start keeps working with none)', () => {
    for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.2']) {
      const cfg = load(`telemetry: { collector: { host: "${host}" } }\n`);
      expect(cfg.telemetry.collector.token).toBeUndefined();
      expect(cfg.telemetry.collector.max_body_bytes).toBe(32 * 1024 * 1024);
      expect(cfg.telemetry.collector.spool_max_bytes).toBe(1024 * 1024 * 1024);
    }
    expect(load('').slo.token).toBeUndefined();
  });

  it('beyond loopback both are required, each reported at its field with the line', () => {
    const text = problems('telemetry:\n  collector: { host: 10.1.2.3 }\n');
    expect(text).toMatch(/^keel\.yaml:4:\d+: telemetry\.collector\.token: is required: the collector listens beyond loopback \(host 10\.1\.2\.3\)/m);
    expect(text).toMatch(/slo\.token: is required: the SLO engine listens beyond loopback/);
  });

  it('with both set from the environment it loads', () => {
    const cfg = load('telemetry:\n  collector: { host: 0.0.0.0, token: "${CT}" }\nslo: { token: "${ST}" }\n', { CT: TOKEN, ST: `${TOKEN}x` });
    expect(cfg.telemetry.collector.token).toBe(TOKEN);
    expect(cfg.slo.token).toBe(`${TOKEN}x`);
  });

  it('placeholders and short tokens are refused like client keys, and never echoed', () => {
    const text = problems('telemetry:\n  collector: { token: "${CT}" }\nslo: { token: "${ST}" }\n', { CT: 'change-me', ST: 'short-but-real-9' });
    expect(text).toMatch(/telemetry\.collector\.token: is a placeholder value/);
    expect(text).toMatch(/slo\.token: is too short \(16 characters\)/);
    expect(text).not.toContain('change-me');
    expect(text).not.toContain('short-but-real-9');
  });
});

describe('secret helpers', () => {
  it('isLoopbackHost: loopback names only', () => {
    expect(['127.0.0.1', 'localhost', '::1', '[::1]', 'LOCALHOST'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'keel-collector', '127.0.0.1.example.com', ''].some(isLoopbackHost)).toBe(false);
  });

  it('presentedToken: Bearer, or the password of Basic; anything else is no token', () => {
    expect(presentedToken(`Bearer ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(`bearer ${TOKEN}`)).toBe(TOKEN);
    expect(presentedToken(`Basic ${Buffer.from(`me:${TOKEN}`).toString('base64')}`)).toBe(TOKEN);
    expect(presentedToken(`Basic ${Buffer.from(TOKEN).toString('base64')}`)).toBeUndefined();
    expect(presentedToken(TOKEN)).toBeUndefined();
    expect(presentedToken(undefined)).toBeUndefined();
  });

  it('secretMatches: equal only, whatever the lengths', () => {
    expect(secretMatches(TOKEN, TOKEN)).toBe(true);
    expect(secretMatches(TOKEN.slice(1), TOKEN)).toBe(false);
    expect(secretMatches(`${TOKEN}0`, TOKEN)).toBe(false);
    expect(secretMatches('', TOKEN)).toBe(false);
    expect(secretMatches(undefined, TOKEN)).toBe(false);
  });
});
