import { readdirSync, readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import { createTelemetry, type Telemetry } from '../../gateway/telemetry/index.js';
import { fakeApm } from '../helpers/apm.js';
import { startHarness, type Harness } from '../helpers/harness.js';

/** Nice value of each thread of this process (field 19 of /proc/<pid>/task/<tid>/stat). */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
    out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}

describe('the span thread', () => {
  let h: Harness;
  let t: Telemetry;
  let apm: Awaited<ReturnType<typeof fakeApm>>;
  let before: Map<number, number>;
  beforeAll(async () => {
    apm = await fakeApm();
    before = threadNices();
    const health = new HealthRegistry();
    t = createTelemetry(telemetrySchema.parse({ export: [{ endpoint: apm.url }] }), { collectorUrl: undefined, breakers: () => health.breakers(), spanFlushMs: 20, env: {} });
    h = await startHarness({ gateway: { health }, observe: t.observer });
  });
  afterAll(async () => {
    await h.close();
    await t.shutdown();
    apm.server.close();
  });

  it('builds and exports spans on a thread of its own at the lowest priority; the gateway thread keeps its own', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: `q${i}` }] });
    await t.flush();
    expect(apm.got.spans).toBe(10);
    const after = threadNices();
    const lowered = [...after].filter(([tid, nice]) => nice === 19 && !before.has(tid));
    expect(lowered).toHaveLength(1);
    expect(after.get(process.pid)).toBe(before.get(process.pid));
  });
});
