import { describe, expect, it } from 'vitest';
import { ConfigError, formatConfigIssues, loadConfigText } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';

/** The two process-level bounds issue 18 added: the collector's queue in insert time, the gateway's heap growth. */
const BASE = `providers: { p: { type: openai, api_key: k } }
routes: { chat: { targets: [{ provider: p, model: m }] } }
`;

const load = (tail: string) => loadConfigText(BASE + tail, 'keel.yaml', { ...providerRules, env: {} });

function problems(tail: string): string {
  try {
    load(tail);
  } catch (err) {
    if (err instanceof ConfigError) return formatConfigIssues(err.issues);
    throw err;
  }
  throw new Error('expected the config to be rejected');
}

describe('process bounds in the config', () => {
  it("default to a 1 s insert-time queue and V8's own heap growth (0), with or without their blocks", () => {
    for (const tail of ['', 'telemetry: { collector: { port: 4319 } }\nserver: { port: 8081 }\n']) {
      const cfg = load(tail);
      expect(cfg.telemetry.collector.max_queue_ms).toBe(1_000);
      expect(cfg.server.heap_growth_percent).toBe(0);
    }
  });

  it('max_queue_ms 0 turns the time bound off (the row bound alone); heap_growth_percent takes a bound', () => {
    const cfg = load('telemetry: { collector: { max_queue_ms: 0 } }\nserver: { heap_growth_percent: 50 }\n');
    expect(cfg.telemetry.collector.max_queue_ms).toBe(0);
    expect(cfg.server.heap_growth_percent).toBe(50);
  });

  it('refuses negative, fractional and absurd values at their line', () => {
    expect(problems('telemetry:\n  collector:\n    max_queue_ms: -5\n')).toMatch(/^keel\.yaml:5:\d+: telemetry\.collector\.max_queue_ms/);
    expect(problems('server:\n  heap_growth_percent: 12.5\n')).toMatch(/^keel\.yaml:4:\d+: server\.heap_growth_percent/);
    expect(problems('server:\n  heap_growth_percent: 5000\n')).toMatch(/^keel\.yaml:4:\d+: server\.heap_growth_percent/);
  });
});
