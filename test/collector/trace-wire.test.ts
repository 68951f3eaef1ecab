import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeRequest } from '../../collector/otlp/decode.js';
import { otlpType } from '../../collector/otlp/proto.js';
import { traceLine } from '../../collector/rows/trace-lines.js';
import { protobufTraceLines } from '../../collector/rows/trace-wire.js';
import { traceRows } from '../../collector/rows/traces.js';
import { spanBatches } from '../../bench/lib/spans.js';

/** The reference: protobufjs objects, traceRows, then one line per row. */
function reference(body: Buffer): { lines: string[]; rejected: number; reason: string } {
  const m = traceRows(decodeRequest('traces', body, 'protobuf', false));
  return { lines: m.rows.map(traceLine), rejected: m.rejected, reason: m.reason };
}

const encode = (name: string, value: Record<string, unknown>): Uint8Array => {
  const type = otlpType(name);
  return type.encode(type.fromObject(value)).finish();
};
const id = (hex: string) => Buffer.from(hex, 'hex');
const kv = (key: string, value: Record<string, unknown>) => ({ key, value });

/** A span with every column filled, odd values included. */
const rich = {
  traceId: id('0af7651916cd43dd8448eb211c80319c'), spanId: id('b7ad6b7169203331'), parentSpanId: id('00f067aa0ba902b7'), traceState: 'k=v',
  name: 'chat "gpt" \\ \n ünïcødé 🚀', kind: 3, startTimeUnixNano: '1732579200123456789', endTimeUnixNano: '1732579201000000001',
  attributes: [
    kv('s', { stringValue: 'text "quoted"\t' }), kv('b', { boolValue: false }), kv('i', { intValue: '-9223372036854775808' }), kv('big', { intValue: '9007199254740993' }),
    kv('d', { doubleValue: 0.1 }), kv('nan', { doubleValue: NaN }), kv('inf', { doubleValue: -Infinity }), kv('bytes', { bytesValue: Buffer.from([0, 255, 7]) }),
    kv('arr', { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '2' }, { kvlistValue: { values: [kv('x', { boolValue: true })] } }] } }),
    kv('map', { kvlistValue: { values: [kv('y', { doubleValue: 1.5 })] } }), kv('42', { stringValue: 'integer-like key' }), kv('s', { stringValue: 'repeated key' }),
    { key: 'no value' }, { value: { stringValue: 'no key' } }, kv('empty', {}),
  ],
  events: [{ timeUnixNano: '1732579200500000000', name: 'exception', attributes: [kv('exception.message', { stringValue: 'boom' })] }, {}],
  links: [{ traceId: id('1'.repeat(32)), spanId: id('2'.repeat(16)), traceState: 'a=b', attributes: [kv('l', { intValue: '7' })] }],
  status: { code: 2, message: 'upstream failed' },
};

const request = (spans: Record<string, unknown>[], resource: Record<string, unknown>[] = [kv('service.name', { stringValue: 'keel' })]) =>
  Buffer.from(encode('ExportTraceServiceRequest', { resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'keel', version: '1.2' }, spans }] }] }));

describe('OTLP/protobuf spans read off the wire', () => {
  it('the gateway\'s own spans: the same lines as the protobufjs path', () => {
    for (const b of spanBatches(3, 40)) {
      const body = Buffer.from(b.body);
      const out = protobufTraceLines(body);
      expect(out.lines).toHaveLength(b.spans);
      expect(out).toEqual(reference(body));
    }
  });

  it('every value kind, events, links, status, escapes, repeated and missing keys: the same lines', () => {
    const body = request([rich, { ...rich, kind: 99, status: { code: 7 }, startTimeUnixNano: '5', endTimeUnixNano: '3' }, { traceId: rich.traceId, spanId: rich.spanId }]);
    const out = protobufTraceLines(body);
    expect(out.lines).toHaveLength(3);
    expect(out).toEqual(reference(body));
  });

  it('spans without valid ids are rejected and counted, as the protobufjs path does', () => {
    const body = request([{ ...rich, traceId: id('0'.repeat(32)) }, { ...rich, spanId: undefined }, { ...rich, traceId: id('abcd') }, rich], []);
    const out = protobufTraceLines(body);
    expect(out.rejected).toBe(3);
    expect(out).toEqual(reference(body));
  });

  it('fields in any order: a resource and a scope after their spans still apply to them', () => {
    const spans = encode('ScopeSpans', { spans: [rich] });
    const scope = encode('ScopeSpans', { scope: { name: 'late-scope' } });
    const scopeSpans = Buffer.concat([spans, scope]);
    const rs = new protobuf.Writer().uint32((2 << 3) | 2).bytes(scopeSpans).finish();
    const late = Buffer.concat([rs, encode('ResourceSpans', { resource: { attributes: [kv('service.name', { stringValue: 'late' })] } })]);
    const body = Buffer.from(new protobuf.Writer().uint32((1 << 3) | 2).bytes(late).finish());
    const out = protobufTraceLines(body);
    expect(out.lines[0]).toContain('"late-scope"');
    expect(out.lines[0]).toContain('{"service.name":"late"}');
    expect(out).toEqual(reference(body));
  });

  it('a truncated body is refused, not half read', () => {
    const body = request([rich]);
    expect(() => protobufTraceLines(body.subarray(0, body.length - 9))).toThrow();
  });

  // The attribute fast path (rows/attr-bytes.ts) writes what it is sure of and hands the rest back:
  // these spans avoid its fallbacks (no repeated or index keys) so the bytes it writes are compared.
  it('attributes written as bytes: escapes, unicode, every scalar kind, empty and missing values, arrays: the same lines', () => {
    const attributes = [
      kv('plain', { stringValue: 'gpt-4o-mini' }), kv('quote', { stringValue: 'say "hi" \\ back' }), kv('control', { stringValue: 'a\tb\nc\u0001\u007f' }),
      kv('unicode', { stringValue: 'ünïcødé 🚀 \u2028' }), kv('ключ', { stringValue: 'значение' }), kv('key "quoted"', { stringValue: 'v' }),
      kv('t', { boolValue: true }), kv('f', { boolValue: false }), kv('zero', { intValue: '0' }), kv('neg', { intValue: '-42' }),
      kv('2^53+1', { intValue: '9007199254740993' }), kv('min', { intValue: '-9223372036854775808' }), kv('max', { intValue: '9223372036854775807' }),
      kv('-2^32', { intValue: '-4294967296' }), kv('2^40', { intValue: '1099511627776' }),
      kv('d', { doubleValue: 0.1 }), kv('tiny', { doubleValue: 1e-7 }), kv('huge', { doubleValue: 1e21 }), kv('nan', { doubleValue: NaN }), kv('inf', { doubleValue: Infinity }),
      kv('bytes', { bytesValue: Buffer.from([0, 255, 7]) }), kv('empty', {}), { key: 'no value' }, kv('empty string', { stringValue: '' }),
      kv('finish_reasons', { arrayValue: { values: [{ stringValue: 'stop' }, { stringValue: 'length "x"' }] } }), kv('map', { kvlistValue: { values: [kv('y', { doubleValue: 1.5 })] } }),
      kv('4294967295', { stringValue: 'not an array index (too big), stays in place' }), kv('01', { stringValue: 'not an index (leading zero)' }),
    ];
    const spans = [{ ...rich, attributes }, { ...rich, attributes: attributes.slice().reverse() }, { ...rich, attributes: [] }];
    const body = request(spans);
    const out = protobufTraceLines(body);
    expect(out.lines).toHaveLength(3);
    expect(out).toEqual(reference(body));
    expect(out.lines[0]).toContain('"ключ":"значение"');
  });

  it('a span past the key cache (thousands of distinct keys) and hash-colliding lookups still give the same lines', () => {
    const many = Array.from({ length: 5000 }, (_, i) => kv(`k${i}`, { stringValue: `v${i}` }));
    const body = request([{ ...rich, attributes: many }, { ...rich, attributes: many.slice(0, 10) }, { ...rich, attributes: [kv('k4999', { stringValue: 'late' }), kv('k1', { intValue: '1' })] }]);
    const out = protobufTraceLines(body);
    expect(out).toEqual(reference(body));
  });

  // Any attributes at all — hostile keys (unicode, quotes, controls, index-like, repeated), every
  // value kind, nesting — give the same lines through the byte fast path as through the reference.
  it('any attributes: the fast path and the reference agree (property)', () => {
    const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0', '7', '42', '01', '4294967295', 'gen_ai.request.model', 's', '"', '\\', '\u2028'), fc.string({ unit: 'grapheme', maxLength: 6 }));
    const scalar = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((v) => ({ stringValue: v })),
      fc.string({ maxLength: 20 }).map((v) => ({ stringValue: v })),
      fc.boolean().map((v) => ({ boolValue: v })),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ intValue: v.toString() })),
      fc.double().map((v) => ({ doubleValue: v })),
      fc.uint8Array({ maxLength: 8 }).map((v) => ({ bytesValue: Buffer.from(v) })),
      fc.constant({}),
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: scalar },
      fc.array(scalar, { maxLength: 3 }).map((values) => ({ arrayValue: { values } })),
      fc.array(fc.tuple(key, scalar), { maxLength: 3 }).map((kvs) => ({ kvlistValue: { values: kvs.map(([k, v]) => kv(k, v)) } })),
    );
    const attrs = fc.array(fc.tuple(key, value), { maxLength: 12 }).map((kvs) => kvs.map(([k, v]) => kv(k, v)));
    fc.assert(
      fc.property(fc.array(attrs, { minLength: 1, maxLength: 3 }), (spans) => {
        const body = request(spans.map((attributes) => ({ ...rich, attributes })));
        expect(protobufTraceLines(body)).toEqual(reference(body));
      }),
      { numRuns: 300 },
    );
  });

  // AttrBytes guesses each key as the one that followed the previous key last time, and copies
  // long plain values natively: spans drawing keys from one small set in changing orders and
  // subsets (guesses right, wrong, and past the end), with values around that length, still agree.
  it('keys in changing orders and long values: the fast path and the reference agree (property)', () => {
    const pool = ['gen_ai.request.model', 'gen_ai.response.model', 'keel.route', 'keel.cost.usd', 'gen_ai.usage.input_tokens', 'k', 'kk', 'gen_ai.request.modem'];
    const text = fc.string({ unit: fc.constantFrom('a', 'z', '0', ' ', '-', '"', '\\', '\n', 'é', '~', '\u007f'), minLength: 20, maxLength: 80 });
    const value = fc.oneof(text.map((v) => ({ stringValue: v })), text.map((v) => ({ stringValue: v.replace(/[^a-z0-9 ~-]/g, 'x') })), fc.double().map((v) => ({ doubleValue: v })));
    const attrs = fc.shuffledSubarray(pool).chain((keys) => fc.tuple(...keys.map(() => value)).map((vs) => keys.map((k, i) => kv(k, vs[i] ?? {}))));
    fc.assert(
      fc.property(fc.array(attrs, { minLength: 2, maxLength: 6 }), (spans) => {
        const body = request(spans.map((attributes) => ({ ...rich, attributes })));
        expect(protobufTraceLines(body)).toEqual(reference(body));
      }),
      { numRuns: 300 },
    );
  });
});
