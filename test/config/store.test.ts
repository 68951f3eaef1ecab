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
    expect(logs.join('\n')).toMatch(/keeping version 1/);
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

describe('restart-only changes', () => {
  const cfg = (extra: string) => `${yaml('a')}${extra}`;
  const reloadTo = (extra: string, opts: { restartOnly?: readonly string[] } = {}) => {
    const file = join(mkdtempSync(join(tmpdir(), 'keel-store-')), 'keel.yaml');
    writeFileSync(file, cfg(''));
    const logs: string[] = [];
    const s = ConfigStore.fromFile(file, { ...providerRules, log: (m) => logs.push(m), ...opts });
    writeFileSync(file, cfg(extra));
    expect(s.reload().ok).toBe(true);
    return logs;
  };

  it('the gateway (the default) says a telemetry.export change needs a restart, and applies the rest', () => {
    const logs = reloadTo('telemetry:\n  export: [{ endpoint: "http://apm:4318" }]\n');
    expect(logs).toEqual(['config reload: telemetry.export changed: restart Keel for it to take effect', 'config reload: version 2']);
  });

  it('keys read per request after all (server.max_in_flight, telemetry.capture_content) need none', () => {
    expect(reloadTo('server: { max_in_flight: 10 }\ntelemetry: { capture_content: true }\n')).toEqual(['config reload: version 2']);
    expect(reloadTo('server: { port: 9999 }\n')).toEqual(['config reload: server.port changed: restart Keel for it to take effect', 'config reload: version 2']);
  });

  it('another process names its own restart-only paths', () => {
    const logs = reloadTo('telemetry:\n  export: [{ endpoint: "http://apm:4318" }]\nslo: { port: 5000 }\n', { restartOnly: ['slo.port'] });
    expect(logs).toEqual(['config reload: slo.port changed: restart Keel for it to take effect', 'config reload: version 2']);
  });
});
