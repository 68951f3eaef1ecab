import type { AnyValue, Id, KeyValue, Nanos } from '../otlp/types.js';

/**
 * Attribute values as the clickhouseexporter stores them (pdata `Value.AsString`,
 * standards.md §2.4): strings as they are, numbers and booleans as text, bytes as
 * base64, arrays and maps as JSON.
 */
export function asString(v: AnyValue | undefined): string {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return String(v.boolValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return doubleText(v.doubleValue);
  if (v.bytesValue !== undefined) return typeof v.bytesValue === 'string' ? v.bytesValue : Buffer.from(v.bytesValue).toString('base64');
  if (v.arrayValue !== undefined || v.kvlistValue !== undefined) return JSON.stringify(asJson(v));
  return '';
}

/** A double as pdata's AsString writes it. */
export function doubleText(d: number): string {
  if (Number.isNaN(d)) return 'NaN';
  if (!Number.isFinite(d)) return d > 0 ? '+Inf' : '-Inf';
  return String(d);
}

function asJson(v: AnyValue | undefined): unknown {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.bytesValue !== undefined) return asString(v);
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(asJson);
  if (v.kvlistValue !== undefined) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv) => [kv.key ?? '', asJson(kv.value)]));
  return null;
}

export function attributeMap(kvs: readonly KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs ?? []) if (kv.key !== undefined) out[kv.key] = asString(kv.value);
  return out;
}

/** Trace and span ids: protobuf bytes or OTLP/JSON hex, both to lowercase hex ('' when empty). */
export function hexId(id: Id | undefined): string {
  if (id === undefined) return '';
  if (typeof id === 'string') return id.toLowerCase();
  return Buffer.from(id).toString('hex');
}

/** Unix nanoseconds → the decimal seconds text ClickHouse reads into DateTime64(9), exactly. */
export function nanosToDateTime64(n: Nanos | bigint | undefined): string {
  const big = BigInt(n ?? 0);
  const s = big / 1_000_000_000n;
  const frac = (big % 1_000_000_000n).toString().padStart(9, '0');
  return `${s}.${frac}`;
}

export function nanosDiff(end: Nanos | bigint | undefined, start: Nanos | bigint | undefined): string {
  const d = BigInt(end ?? 0) - BigInt(start ?? 0);
  return (d < 0n ? 0n : d).toString();
}

const E9 = 1_000_000_000;
const TWO32 = 4294967296;

/**
 * nanosToDateTime64's text from a fixed64's two 32-bit halves, without BigInt: the BigInt
 * arithmetic of each span's start, end and duration was a visible part of the wire decode's
 * self time. The double estimate of the seconds is at most one off (the value is within 2^10 of
 * it, below 2^64); the remainder, exact modulo 2^32 (Math.imul) and within (-2^31, 2^31), corrects it.
 */
export function halvesToDateTime64(lo: number, hi: number): string {
  let s = Math.floor((hi * TWO32 + lo) / E9);
  let rem = (lo - Math.imul(s, E9)) | 0;
  while (rem < 0) {
    s--;
    rem += E9;
  }
  while (rem >= E9) {
    s++;
    rem -= E9;
  }
  return `${s}.${String(rem).padStart(9, '0')}`;
}

/** nanosDiff of two fixed64s given as halves: exact in doubles below 2^53 ns (104 days), BigInt past it. */
export function halvesDiff(endLo: number, endHi: number, startLo: number, startHi: number): string {
  const d = (endHi - startHi) * TWO32 + (endLo - startLo);
  if (d <= 0) return '0';
  if (Number.isSafeInteger(d)) return String(d);
  return nanosDiff((BigInt(endHi) << 32n) | BigInt(endLo), (BigInt(startHi) << 32n) | BigInt(startLo));
}
