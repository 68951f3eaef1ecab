import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { freePort } from '../helpers/ports.js';

/** `keel collector` and `keel gateway` as separate processes, the scale-out shape. */
const keel = join(resolve(import.meta.dirname, '../..'), 'bin', 'keel.js');

function startProcess(args: string[], cwd: string, ready: RegExp): Promise<{ child: ChildProcess; output: () => string; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [keel, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`keel ${args[0] ?? ''} did not come up:\n${out}`)), 60_000);
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolveStart({ child, output: () => out, match: m });
      }
    });
  });
}

const stop = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : (child.once('exit', r), child.kill('SIGTERM'))));

describe('keel gateway → keel collector, separate processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-scale-'));
  let sim: Simulator;
  let collector: Awaited<ReturnType<typeof startProcess>>;
  let gateway: Awaited<ReturnType<typeof startProcess>>;
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
    collector = await startProcess(['collector', '--slo-port', '0'], dir, /listening on (http:\/\/\S+)/);
    gateway = await startProcess(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  }, 120_000);
  afterAll(async () => {
    await stop(gateway.child);
    await stop(collector.child);
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
    expect(await stop(gateway.child)).toBe(0);
    expect(await stop(collector.child)).toBe(0);
    expect(collector.output()).toMatch(/stopped/);
  });
});
