import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigIssues, loadConfigFile, loadConfigText } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';

const GOOD = `server:
  port: 8080
providers:
  oai:
    type: openai
    api_key: \${OPENAI_API_KEY}
routes:
  chat:
    targets:
      - { provider: oai, model: gpt-4o-mini, weight: 2 }
`;

function problems(text: string, env: Record<string, string> = { OPENAI_API_KEY: 'sk-test' }): string {
  try {
    loadConfigText(text, 'keel.yaml', { ...providerRules, env });
  } catch (err) {
    if (err instanceof ConfigError) return formatConfigIssues(err.issues);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('config loading', () => {
  it('accepts a valid file, fills defaults and freezes the result', () => {
    const cfg = loadConfigText(GOOD, 'keel.yaml', { ...providerRules, env: { OPENAI_API_KEY: 'sk-test' } });
    expect(cfg.providers.oai?.api_key).toBe('sk-test');
    expect(cfg.routes.chat?.targets[0]?.weight).toBe(2);
    expect(cfg.server.host).toBe('127.0.0.1');
    expect(cfg.server.body_limit_bytes).toBe(10 * 1024 * 1024);
    expect(Object.isFrozen(cfg.routes.chat)).toBe(true);
  });

  const cases: [string, string, RegExp][] = [
    ['YAML syntax error', 'server:\n  port: 8080\nproviders: {oai: {type: openai}\nroutes: {}\n', /^keel\.yaml:4:\d+: .+/],
    ['duplicate key', 'providers: {}\nroutes: {}\nroutes: {}\n', /^keel\.yaml:3:1: .*[Dd]uplicate|^keel\.yaml:3:1: .*unique/],
    ['unknown top-level key', `${GOOD}telemtry: {}\n`, /^keel\.yaml:11:1: telemtry: unknown key "telemtry".*allowed: version, server, auth, providers, routes, defaults/],
    ['unknown key in a provider, with a suggestion', GOOD.replace('    api_key:', '    api_kye: x\n    api_key:'), /^keel\.yaml:6:5: providers\.oai\.api_kye: unknown key "api_kye" — did you mean "api_key"\?/],
    ['unknown key in a route target', GOOD.replace('weight: 2 }', 'weight: 2, wieght: 3 }'), /^keel\.yaml:10:57: routes\.chat\.targets\[0\]\.wieght: unknown key "wieght" — did you mean "weight"\?/],
    ['wrong type', GOOD.replace('weight: 2', 'weight: heavy'), /^keel\.yaml:10:54: routes\.chat\.targets\[0\]\.weight: expected a number, got a string$/],
    ['missing required key', GOOD.replace('provider: oai, model: gpt-4o-mini, ', 'provider: oai, '), /^keel\.yaml:10:9: routes\.chat\.targets\[0\]\.model: missing required key "model"$/],
    ['bad enum', GOOD.replace('type: openai', 'type: opneai'), /^keel\.yaml:5:11: providers\.oai\.type: must be one of: openai, anthropic, openai-compatible, openai-responses$/],
    ['bad URL', GOOD.replace('type: openai', 'type: openai\n    base_url: not a url'), /^keel\.yaml:6:15: providers\.oai\.base_url: must be an http\(s\) URL$/],
    ['out-of-range number', GOOD.replace('port: 8080', 'port: 70000'), /^keel\.yaml:2:9: server\.port: must be at most 65535$/],
    ['unknown provider in a route', GOOD.replace('provider: oai', 'provider: nope'), /^keel\.yaml:10:21: routes\.chat\.targets\[0\]\.provider: unknown provider "nope" \(declared: oai\)$/],
    ['empty target list', GOOD.replace(/targets:\n.*\n/, 'targets: []\n'), /^keel\.yaml:9:14: routes\.chat\.targets: needs at least 1 item/],
    ['base_url required by the provider type', GOOD.replace('type: openai', 'type: openai-compatible'), /^keel\.yaml:5:11: providers\.oai\.type: providers of type openai-compatible need a base_url$/],
    ['missing env var', GOOD, /^keel\.yaml:6:14: providers\.oai\.api_key: environment variable OPENAI_API_KEY is not set$/],
    ['not a mapping', '- a\n- b\n', /^keel\.yaml:1:1: the top level must be a mapping/],
    ['empty file', '\n# nothing\n', /^keel\.yaml:1:1: the file is empty/],
  ];

  for (const [name, text, expected] of cases) {
    it(`reports ${name} with file:line:col and reason`, () => {
      const env: Record<string, string> = name === 'missing env var' ? {} : { OPENAI_API_KEY: 'sk-test' };
      expect(problems(text, env)).toMatch(expected);
    });
  }

  it('reports every problem, in file order', () => {
    const text = GOOD.replace('port: 8080', 'port: -1').replace('weight: 2', 'weight: x');
    const lines = problems(text).split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^keel\.yaml:2:/);
    expect(lines[1]).toMatch(/^keel\.yaml:10:/);
  });

  it('names a missing file and says what to do', () => {
    const err = (() => {
      try {
        loadConfigFile('/nonexistent/keel.yaml', providerRules);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(formatConfigIssues((err as ConfigError).issues)).toMatch(/^\/nonexistent\/keel\.yaml: file not found\. Pass --config FILE, set KEEL_CONFIG/);
  });
});

describe('environment interpolation', () => {
  const env = { KEY: 'sk-live-SECRET-123456', PORT: '9090', FLAG: 'true', INJECT: '{evil: 1}' };
  const load = (text: string) => loadConfigText(text, 'keel.yaml', { ...providerRules, env });
  const base = (extra: string) => `providers:\n  oai: { type: openai, api_key: "\${KEY}" }\nroutes:\n  r: { targets: [{ provider: oai, model: m }] }\n${extra}`;

  it('substitutes values and defaults, re-reads whole numbers, keeps the escape literal', () => {
    const cfg = load(base('server:\n  port: ${PORT}\n  host: "${HOST:-0.0.0.0}"\n  allow_unauthenticated: true\n') .replace('model: m', () => 'model: "$${literal}"'));
    expect(cfg.providers.oai?.api_key).toBe('sk-live-SECRET-123456');
    expect(cfg.server.port).toBe(9090);
    expect(cfg.server.host).toBe('0.0.0.0');
    expect(cfg.routes.r?.targets[0]?.model).toBe('${literal}');
  });

  it('never lets an env value add YAML structure', () => {
    const cfg = load(base('').replace('model: m', 'model: "${INJECT}"'));
    expect(cfg.routes.r?.targets[0]?.model).toBe('{evil: 1}');
  });

  it('never echoes a substituted secret in an error', () => {
    const text = base('server:\n  port: ${KEY}\n').replace('api_key: "${KEY}"', 'api_key: "${KEY}", base_url: "${KEY}"');
    let message = '';
    try {
      load(text);
    } catch (err) {
      message = (err as ConfigError).message + formatConfigIssues((err as ConfigError).issues);
    }
    expect(message).toMatch(/server\.port/);
    expect(message).toMatch(/base_url/);
    expect(message).not.toContain('SECRET');
  });

  it('loads keel.example.yaml with its variables set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-cfg-'));
    const copy = join(dir, 'keel.yaml');
    writeFileSync(copy, GOOD);
    expect(loadConfigFile(copy, { ...providerRules, env: { OPENAI_API_KEY: 'x' } }).routes.chat).toBeDefined();
    const example = loadConfigFile('keel.example.yaml', { ...providerRules, env: { OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'b', KEEL_KEY_SEARCH: 'search-app-key-0123456789abcdef' } });
    expect(Object.keys(example.routes)).toContain('chat');
  });
});

describe('keel.example.yaml is coherent', () => {
  it("its APM export goes to neither Keel's own collector nor the SLO status page", () => {
    const example = loadConfigFile('keel.example.yaml', { ...providerRules, env: { OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'b', KEEL_KEY_SEARCH: 'search-app-key-0123456789abcdef' } });
    const ports = new Set([example.telemetry.collector.port, example.slo.port, example.server.port]);
    for (const e of example.telemetry.export) expect(ports.has(Number(new URL(e.endpoint).port)), e.endpoint).toBe(false);
  });
});
