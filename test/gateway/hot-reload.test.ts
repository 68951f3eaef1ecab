import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigStore } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

/** Reloads swap the config for new requests while in-flight ones finish on the old one. */
describe('hot reload under traffic', () => {
  let h: Harness;
  let store: ConfigStore;
  let file: string;
  const logs: string[] = [];

  const configWith = (simUrl: string, model: string) => {
    const cfg = baseConfig(simUrl) as { routes: Record<string, unknown> };
    cfg.routes['gpt-sim'] = { targets: [{ provider: 'oai', model }] };
    return cfg;
  };
  const write = (content: string) => {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, content);
    renameSync(tmp, file); // how editors and ConfigMap updates replace files
  };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-reload-'));
    file = join(dir, 'keel.yaml');
    h = await startHarness({
      behaviours: { 'model-a': { tokens: 4, itl_ms: 5 }, 'model-b': { tokens: 4, itl_ms: 5 } },
      source: (url) => {
        writeFileSync(file, stringify(configWith(url, 'model-a')));
        store = ConfigStore.fromFile(file, { ...providerRules, log: (m) => logs.push(m) });
        store.watch();
        return store;
      },
    });
  });
  afterAll(async () => {
    store.close();
    await h.close();
  });

  it('loses no request while the config changes, and new requests use the new target', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const one = async (i: number) => {
      if (i % 2 === 0) return (await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: `q${i}` }] })).model;
      const stream = await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: `q${i}` }] });
      let model = '';
      for await (const c of stream) model = c.model;
      return model;
    };
    const startVersion = store.current.version;
    const traffic: Promise<string>[] = [];
    for (let i = 0; i < 40; i++) {
      traffic.push(one(i));
      if (i === 15) write(stringify(configWith(h.sim.url, 'model-b')));
      await new Promise((r) => setTimeout(r, 5));
    }
    const models = await Promise.all(traffic);
    expect(models).toHaveLength(40);
    expect(models.every((m) => m === 'model-a' || m === 'model-b')).toBe(true);
    await eventually(() => (store.current.version > startVersion ? true : undefined));
    const after = await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'after' }] });
    expect(after.model).toBe('model-b');
  });

  it('rejects an invalid file with the reason and keeps serving the last good config', async () => {
    const version = store.current.version;
    logs.length = 0;
    write('routes:\n  gpt-sim:\n    targets: []\nproviders: {}\n');
    await eventually(() => (logs.some((l) => l.includes('keel.yaml')) ? true : undefined));
    expect(logs.join('\n')).toMatch(/keel\.yaml:\d+:\d+/);
    expect(store.current.version).toBe(version);
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const res = await client.chat.completions.create({ model: 'gpt-sim', messages: [{ role: 'user', content: 'still here' }] });
    expect(res.model).toBe('model-b');
  });
});
