import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigIssues, loadConfigText } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { buildRuntime } from '../../gateway/runtime/resolve.js';

/** health_check on providers and targets: validated like the rest (file:line:col and reason), resolved target over provider over defaults. */
const CONFIG = `providers:
  oai:
    type: openai
    api_key: sk-test
    health_check: { interval_s: 30, method: models }
  plain:
    type: openai
    api_key: sk-test
routes:
  chat:
    targets:
      - { provider: oai, model: a }
      - { provider: oai, model: b, health_check: { interval_s: 0.2, only_when_idle: false } }
      - { provider: plain, model: c }
      - { provider: plain, model: d, health_check: {} }
`;

function problems(text: string): string {
  try {
    loadConfigText(text, 'keel.yaml', { ...providerRules, env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return formatConfigIssues(err.issues);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('health_check config', () => {
  it('resolves per target: its own fields over its provider over the defaults; none set: never probed', () => {
    const rt = buildRuntime(loadConfigText(CONFIG, 'keel.yaml', { ...providerRules, env: {} }), 1);
    const hcs = (rt.routes.get('chat')?.targets ?? []).map((t) => t.healthCheck);
    expect(hcs).toEqual([
      { interval_s: 30, timeout_ms: 5000, only_when_idle: true, method: 'models' },
      { interval_s: 0.2, timeout_ms: 5000, only_when_idle: false, method: 'models' },
      undefined,
      { interval_s: 60, timeout_ms: 5000, only_when_idle: true, method: 'chat' },
    ]);
  });

  const cases: [string, string, RegExp][] = [
    ['an interval below the floor', CONFIG.replace('interval_s: 0.2', 'interval_s: 0.01'), /^keel\.yaml:13:64: routes\.chat\.targets\[1\]\.health_check\.interval_s: must be at least 0\.05$/],
    ['an interval that is not a number', CONFIG.replace('interval_s: 30', 'interval_s: often'), /^keel\.yaml:5:33: providers\.oai\.health_check\.interval_s: expected a number, got a string$/],
    ['an unknown method', CONFIG.replace('method: models', 'method: ping'), /^keel\.yaml:5:\d+: providers\.oai\.health_check\.method: must be one of: chat, models$/],
    ['an unknown key, with the allowed ones', CONFIG.replace('health_check: {}', 'health_check: { timeout: 100 }'), /^keel\.yaml:15:54: routes\.chat\.targets\[3\]\.health_check\.timeout: unknown key "timeout" \(allowed: interval_s, timeout_ms, only_when_idle, method\)$/],
    ['a timeout that is not a whole number of ms', CONFIG.replace('health_check: {}', 'health_check: { timeout_ms: 2.5 }'), /^keel\.yaml:15:\d+: routes\.chat\.targets\[3\]\.health_check\.timeout_ms: expected an? int/],
  ];
  for (const [name, text, expected] of cases) {
    it(`reports ${name} with file:line:col and reason`, () => expect(problems(text)).toMatch(expected));
  }
});
