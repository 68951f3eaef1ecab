import Anthropic from '@anthropic-ai/sdk';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The real `keel` command as a user runs it: built on demand, in a folder with no keel.yaml. */
const root = resolve(import.meta.dirname, '../..');
const keel = join(root, 'bin', 'keel.js');
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(OPENAI_API_KEY|ANTHROPIC_API_KEY|KEEL_CONFIG)$/.test(k)));

function run(args: string[], cwd: string, env: Record<string, string | undefined> = cleanEnv) {
  return spawnSync(process.execPath, [keel, ...args], { cwd, env, encoding: 'utf8', timeout: 120_000 });
}

describe('keel CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-cli-'));
  beforeAll(() => {
    // Builds dist/ once (what `npm start` does first on a fresh clone).
    const built = run(['help'], dir);
    expect(built.status, built.stderr).toBe(0);
  }, 180_000);

  it('check: accepts keel.example.yaml when its variables are set', () => {
    const res = run(['check', join(root, 'keel.example.yaml')], dir, { ...cleanEnv, OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'b', KEEL_KEY_SEARCH: 'search-app-key-0123456789abcdef' });
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/keel\.example\.yaml: OK \(3 providers, 4 routes\)/);
  });

  it('check: lists every problem as file:line:col and exits 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'providers:\n  p: { type: opneai }\nroutes:\n  r: { targets: [{ provider: q, model: m, weight: x }] }\nretries: 3\n');
    const res = run(['check', file], dir);
    expect(res.status).toBe(1);
    const lines = res.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/bad\.yaml:2:\d+: providers\.p\.type: must be one of: openai, anthropic, openai-compatible/);
    expect(res.stderr).toMatch(/bad\.yaml:4:\d+: routes\.r\.targets\[0\]\.weight: expected a number/);
    expect(res.stderr).toMatch(/bad\.yaml:5:1: retries: unknown key "retries"/);
  });

  it('unknown commands and bad flags exit 2 with usage', () => {
    expect(run(['frobnicate'], dir).status).toBe(2);
    const bad = run(['start', '--port', 'abc'], dir);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--port must be an integer/);
  });

  describe('start with no config and no keys', () => {
    let child: ChildProcess;
    let stderr = '';
    let url = '';
    beforeAll(async () => {
      child = spawn(process.execPath, [keel, 'start', '--port', '0', '--collector-port', '0', '--slo-port', '0'], { cwd: dir, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      url = await new Promise<string>((resolveUrl, reject) => {
        const timer = setTimeout(() => reject(new Error(`keel start did not come up:\n${stderr}`)), 60_000);
        child.stderr?.on('data', () => {
          const m = /gateway listening on (http:\/\/[^\s]+)/.exec(stderr);
          if (m?.[1] !== undefined) {
            clearTimeout(timer);
            resolveUrl(m[1]);
          }
        });
      });
    }, 90_000);
    afterAll(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });

    it('announces simulated providers', () => {
      expect(stderr).toMatch(/SIMULATED providers/);
      expect(stderr).toMatch(/accepts any caller/);
    });

    it("leaves the heap growth to V8 in the gateway and the collector it forks (server.heap_growth_percent 0: the tail's default)", () => {
      expect(stderr).not.toMatch(/heap growth bounded/);
    });

    it('answers the OpenAI and Anthropic SDKs on the demo routes', async () => {
      const oai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'any', maxRetries: 0 });
      const res = await oai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
      expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
      let streamed = '';
      for await (const c of await oai.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] })) streamed += c.choices[0]?.delta.content ?? '';
      expect(streamed.split(' ').length).toBe(40);
      const ant = new Anthropic({ baseURL: url, apiKey: 'any', maxRetries: 0 });
      const msg = await ant.messages.create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
      expect(msg.content[0]?.type).toBe('text');
    });

    const countRequests = (route: string) => {
      const res = run(['query', `SELECT count() AS n FROM llm_requests WHERE route = '${route}'`], dir);
      return { ...res, n: Number(/^(\d+)$/m.exec(res.stdout)?.[1] ?? -1) };
    };

    it('keel query reads what the running collector stored', async () => {
      expect(stderr).toMatch(/collector: migration: otel traces/);
      // One streamed request went to `chat` above; spans reach the store within a couple of seconds.
      let n = -1;
      for (let i = 0; i < 10 && n < 1; i++) {
        n = countRequests('chat').n;
        if (n < 1) await new Promise((r) => setTimeout(r, 300));
      }
      expect(n).toBe(1);
    }, 30_000);

    it('keel slo status shows the default SLOs of every route from the running engine', () => {
      expect(stderr).toMatch(/SLO status page on http:\/\/127\.0\.0\.1:\d+\//);
      const res = run(['slo', 'status'], dir);
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout).toMatch(/^chat-availability\s+99\.5% \/ 30d/m);
      expect(res.stdout).toMatch(/^chat-ttft\s+95% \/ 30d/m);
      expect(res.stdout).toMatch(/No alerts firing\./);
    });

    it('stops cleanly on Ctrl-C, flushing telemetry into the store first', async () => {
      const oai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'any', maxRetries: 0 });
      await oai.chat.completions.create({ model: 'claude-haiku-4-5', messages: [{ role: 'user', content: 'last one' }] });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/collector: stopped/);
      expect(stderr).toMatch(/keel: stopped/);
      // No collector now: keel query opens the embedded store itself.
      const after = countRequests('claude-haiku-4-5');
      expect(after.stderr, stderr).toBe('');
      expect(after.n).toBe(2);
    }, 30_000);
  });
});
