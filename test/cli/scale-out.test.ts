import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { freePort } from '../helpers/ports.js';
import { keelBin as keel, startKeel, type KeelProcess } from '../helpers/procs.js';

const stop = (p: KeelProcess) => p.stop();

describe('keel gateway → keel collector, separate processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-scale-'));
  let sim: Simulator;
  let collector: KeelProcess;
  let gateway: KeelProcess;
  beforeAll(async () => {
    sim = await startSimulator();
    const port = await freePort();
    writeFileSync(
      join(dir, 'keel.yaml'),
      [
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${sim.url}/v1", auth: none }`,
        'routes:',
        '  chat: { targets: [{ provider: sim, model: sim-model }] }',
        'telemetry:',
        `  collector: { port: ${port} }`,
        '',
      ].join('\n'),
    );
    collector = await startKeel(['collector', '--slo-port', '0'], dir, /listening on (http:\/\/\S+)/);
    gateway = await startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  }, 120_000);
  afterAll(async () => {
    await stop(gateway);
    await stop(collector);
    await sim.close();
  });

  it('the gateway sends to the configured collector; keel query reads it back', async () => {
    expect(gateway.output()).toMatch(/telemetry to http:\/\/127\.0\.0\.1:\d+/);
    const client = new OpenAI({ baseURL: `${gateway.match[1] ?? ''}/v1`, apiKey: 'k', maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: `q${i}` }] });
    let n = -1;
    for (let i = 0; i < 15 && n < 3; i++) {
      await new Promise((r) => setTimeout(r, 400));
      const res = spawnSync(process.execPath, [keel, 'query', "SELECT count() AS n FROM llm_requests WHERE route = 'chat'"], { cwd: dir, encoding: 'utf8' });
      n = Number(/^(\d+)$/m.exec(res.stdout)?.[1] ?? -1);
    }
    expect(n).toBe(3);
  }, 30_000);

  it('both stop cleanly', async () => {
    expect(await stop(gateway)).toBe(0);
    expect(await stop(collector)).toBe(0);
    expect(collector.output()).toMatch(/stopped/);
  });
});
