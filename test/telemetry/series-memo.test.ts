import type { Attributes, HrTime } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SERIES, Series, seriesKey } from '../../gateway/telemetry/local-metrics.js';

/**
 * Series found through the walked memo against Series as it was (the oracle below: the key
 * string built on every record): every lookup lands on the series the old one gave, in the
 * same creation order, with the same keys, attributes and overflow.
 */
class OldSeries<T> {
  readonly #make: () => T;
  readonly byKey = new Map<string, { attributes: Attributes; startTime: HrTime; value: T }>();

  constructor(make: () => T) {
    this.#make = make;
  }

  get(attrs: Attributes): T {
    const key = seriesKey(attrs);
    const found = this.byKey.get(key);
    if (found !== undefined) return found.value;
    const overflow = this.byKey.size >= MAX_SERIES;
    const k = overflow ? 'overflow' : key;
    const existing = this.byKey.get(k);
    if (existing !== undefined) return existing.value;
    const s = { attributes: overflow ? { 'otel.metric.overflow': true } : { ...attrs }, startTime: [0, 0] as HrTime, value: this.#make() };
    this.byKey.set(k, s);
    return s.value;
  }
}

function run(seq: Attributes[]): { ids: number[][]; keys: unknown[][] } {
  let a = 0;
  let b = 0;
  const oldS = new OldSeries(() => ({ id: a++ }));
  const newS = new Series(() => ({ id: b++ }));
  const ids = [seq.map((x) => oldS.get(x).id), seq.map((x) => newS.get(x).id)];
  const keys = [[...oldS.byKey].map(([k, e]) => [k, e.attributes]), [...newS.byKey].map(([k, e]) => [k, e.attributes])];
  return { ids, keys };
}

// Values that seriesKey spells alike (200 and '200', undefined and 'undefined') or that hold its separators.
const value = fc.constantFrom<Attributes[string]>('a', 'b', 200, '200', 443, true, 'true', undefined, 'undefined', 'x\u0002y\u0001', 'x', 'y\u0001', '', 0.5);
const key = fc.constantFrom('keel.route', 'http.response.status_code', 'server.port', 'error.type', 'a\u0001x', 'a');
const attrs = fc.array(fc.tuple(key, value), { maxLength: 5 }).map((pairs) => {
  const out: Attributes = {};
  for (const [k, v] of pairs) out[k] = v;
  return out;
});

describe('Series: the walked memo answers what the key string did', () => {
  it('for arbitrary attribute sequences (key orders, prefixes, values spelled alike, separators inside values)', () => {
    fc.assert(
      fc.property(fc.array(attrs, { maxLength: 80 }), (seq) => {
        const { ids, keys } = run(seq);
        expect(ids[1]).toEqual(ids[0]);
        expect(keys[1]).toEqual(keys[0]);
      }),
      { numRuns: 500 },
    );
  });

  it('past MAX_SERIES: the same overflow series, and series found before the cap still found', () => {
    const seq: Attributes[] = [];
    for (let i = 0; i < MAX_SERIES + 40; i++) seq.push({ 'keel.route': `r${i}`, 'server.port': i % 3 });
    for (let i = 0; i < MAX_SERIES + 40; i += 7) seq.push({ 'keel.route': `r${i}`, 'server.port': i % 3 });
    const { ids, keys } = run(seq);
    expect(ids[1]).toEqual(ids[0]);
    expect(keys[1]).toEqual(keys[0]);
  });
});
