import { describe, expect, it } from 'vitest';
import { telemetrySchema } from '../../config/telemetry-schema.js';
import { layoutOf } from '../../store/index.js';

const issues = (store: Record<string, unknown>) => {
  const r = telemetrySchema.safeParse({ store });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('telemetry.store.cluster and shards', () => {
  it('a cluster on a server is accepted and becomes the migrations’ layout; no cluster is single node', () => {
    const store = telemetrySchema.parse({ store: { url: 'http://clickhouse-01:8123', cluster: 'keel', database: 'keel' } }).store;
    expect(layoutOf(store)).toEqual({ cluster: 'keel', shards: 1, database: 'keel' });
    expect(layoutOf(telemetrySchema.parse({ store: { url: 'http://ch:8123', cluster: 'keel', shards: 3 } }).store)).toEqual({ cluster: 'keel', shards: 3, database: 'default' });
    expect(layoutOf(telemetrySchema.parse({}).store)).toEqual({ shards: 1, database: 'default' });
  });

  it('refuses what cannot work, naming the field', () => {
    expect(issues({ cluster: 'keel' })).toEqual(['store.cluster: needs telemetry.store.url: embedded chDB cannot join a ClickHouse cluster']);
    expect(issues({ url: 'http://ch:8123', shards: 2 })).toEqual(['store.shards: is 2, which needs telemetry.store.cluster (the cluster whose shards hold the data)']);
    expect(issues({ url: 'http://ch:8123', cluster: "keel' SYNC; DROP" })).toEqual(['store.cluster: is not a cluster name (letters, digits, _ and -)']);
    expect(issues({ url: 'http://ch:8123', cluster: 'keel', shards: 0 })[0]).toMatch(/^store\.shards: /);
  });
});
