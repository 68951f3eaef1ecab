import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigStore, type ConfigSnapshot } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';

const yaml = (model: string) => `providers:\n  p: { type: openai, api_key: k }\nroutes:\n  r: { targets: [{ provider: p, model: ${model} }] }\n`;

function waitFor<T>(register: (cb: (v: T) => void) => () => void, ms = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out'));
    }, ms);
    const off = register((v) => {
      clearTimeout(timer);
      off();
      resolve(v);
    });
  });
}

describe('ConfigStore', () => {
  let store: ConfigStore | undefined;
  afterEach(() => store?.close());

  const setup = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keel-store-')), 'keel.yaml');
    writeFileSync(file, yaml('a'));
    const logs: string[] = [];
    store = ConfigStore.fromFile(file, { ...providerRules, log: (m) => logs.push(m) });
    return { file, logs, s: store };
  };

  it('reload() swaps in a valid change and bumps the version; identical content does not', () => {
    const { file, s } = setup();
    const before = s.current;
    expect(s.reload()).toEqual({ ok: true, version: 1 });
    writeFileSync(file, yaml('b'));
    expect(s.reload()).toEqual({ ok: true, version: 2 });
    expect(s.current.config.routes.r?.targets[0]?.model).toBe('b');
    expect(before.config.routes.r?.targets[0]?.model).toBe('a'); // a held snapshot never changes
  });

  it('rejects an invalid change with the reason and keeps the running config', () => {
    const { file, logs, s } = setup();
    const errors: string[] = [];
    s.onError((e) => errors.push(e.message));
    writeFileSync(file, yaml('b').replace('type: openai', 'type: nope'));
    const result = s.reload();
    expect(result.ok).toBe(false);
    expect(errors[0]).toMatch(/keel\.yaml:2:\d+: providers\.p\.type: must be one of/);
    expect(logs.join('\n')).toMatch(/still serving version 1/);
    expect(s.current.config.routes.r?.targets[0]?.model).toBe('a');
  });

  it('reloads on SIGHUP once watching, and not after close()', async () => {
    const { file, s } = setup();
    const baseline = process.listenerCount('SIGHUP');
    s.watch();
    expect(process.listenerCount('SIGHUP')).toBe(baseline + 1);
    writeFileSync(file, yaml('c'));
    const changed = waitFor<ConfigSnapshot>((cb) => s.onChange(cb));
    process.kill(process.pid, 'SIGHUP');
    expect((await changed).config.routes.r?.targets[0]?.model).toBe('c');
    s.close();
    const listeners = process.listenerCount('SIGHUP');
    writeFileSync(file, yaml('d'));
    await new Promise((r) => setTimeout(r, 300));
    expect(s.current.config.routes.r?.targets[0]?.model).toBe('c');
    expect(listeners).toBe(baseline);
  });

  it('fromValue serves a fixed config and never reloads', () => {
    const s = ConfigStore.fromValue(setup().s.current.config, 'test');
    expect(s.reload()).toEqual({ ok: true, version: 1 });
    expect(s.current.source).toBe('test');
  });
});
