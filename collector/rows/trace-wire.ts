import protobuf from 'protobufjs';
import { otlpType } from '../otlp/proto.js';
import { AttrBytes, int64Text } from './attr-bytes.js';
import { LineWriter } from './line-writer.js';
import type { AnyValue } from '../otlp/types.js';
import { KINDS, STATUS, validId, type MappedTraces } from './traces.js';
import { asString, doubleText, halvesDiff, halvesToDateTime64 } from './values.js';

/**
 * An OTLP/protobuf ExportTraceServiceRequest → `otel_traces` JSONCompactEachRow lines,
 * read straight off the wire: the same rows as decodeRequest + traceRows + traceLine
 * (the tests hold both paths to that), without protobufjs's message objects and their
 * toObject copy, which took ~60 % of the collector's JavaScript time per span.
 * Field numbers are opentelemetry-proto v1's (see ../otlp/proto.ts).
 */
type Reader = protobuf.Reader;

interface Ctx {
  body: Buffer;
  rejected: number;
}

/** The attribute writer of the fast path, reused span after span (one process, one thread). */
const ATTRS = new AttrBytes();
/** Where a request's lines are written, reused request after request. */
const OUT = new LineWriter();
const COMMA = 0x2c;

/** The end offset of a length-delimited field that starts at the reader's position. */
function end(r: Reader): number {
  const len = r.uint32();
  if (r.pos + len > r.len) throw new RangeError('length beyond the message');
  return r.pos + len;
}

function hex(r: Reader, body: Buffer): string {
  const until = end(r);
  const s = body.toString('hex', r.pos, until);
  r.pos = until;
  return s;
}

/** A fixed64 as its two unsigned 32-bit halves, low first (see halvesToDateTime64). */
function halves(r: Reader, out: [number, number]): void {
  out[0] = r.fixed32();
  out[1] = r.fixed32();
}

/** A signed int64 in decimal, exactly (protobufjs gives a Long, or a number without the long package). */
function int64(r: Reader): string {
  return int64Text(r.int64());
}

/** An AnyValue as text (asString); arrays and maps, rare in spans, go through the generic decoder. */
function anyValue(r: Reader, until: number): string {
  const start = r.pos;
  let str: string | undefined;
  let bool: boolean | undefined;
  let int: string | undefined;
  let dbl: number | undefined;
  let bytes: Uint8Array | undefined;
  let nested = false;
  while (r.pos < until) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1: str = r.string(); break;
      case 2: bool = r.bool(); break;
      case 3: int = int64(r); break;
      case 4: dbl = r.double(); break;
      case 7: bytes = r.bytes(); break;
      case 5: case 6: nested = true; r.skipType(t & 7); break;
      default: r.skipType(t & 7);
    }
  }
  if (str !== undefined) return str;
  if (bool !== undefined) return String(bool);
  if (int !== undefined) return int;
  if (dbl !== undefined) return doubleText(dbl);
  if (bytes !== undefined) return Buffer.from(bytes).toString('base64');
  if (!nested) return '';
  const type = otlpType('AnyValue');
  const value: AnyValue = type.toObject(type.decode(r.buf.subarray(start, until)), { longs: String, enums: Number, defaults: false, oneofs: false });
  return asString(value);
}

/** One KeyValue into `out` (attributeMap's rules: no key, no entry; a repeated key keeps the last value). */
function keyValue(r: Reader, until: number, out: Record<string, string>): void {
  let key: string | undefined;
  let value = '';
  while (r.pos < until) {
    const t = r.uint32();
    if (t >>> 3 === 1) key = r.string();
    else if (t >>> 3 === 2) value = anyValue(r, end(r));
    else r.skipType(t & 7);
  }
  if (key !== undefined) out[key] = value;
}

/** A message holding only attributes at `field` (Resource: 1), as a map. */
function attributesOf(r: Reader, until: number, field: number): Record<string, string> {
  const out: Record<string, string> = {};
  while (r.pos < until) {
    const t = r.uint32();
    if (t >>> 3 === field) keyValue(r, end(r), out);
    else r.skipType(t & 7);
  }
  return out;
}

interface Nested {
  time: string[];
  name: string[];
  attrs: Record<string, string>[];
  traceId: string[];
  spanId: string[];
  state: string[];
  linkAttrs: Record<string, string>[];
}

function event(r: Reader, until: number, n: Nested): void {
  const time: [number, number] = [0, 0];
  let name = '';
  const attrs: Record<string, string> = {};
  while (r.pos < until) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1: halves(r, time); break;
      case 2: name = r.string(); break;
      case 3: keyValue(r, end(r), attrs); break;
      default: r.skipType(t & 7);
    }
  }
  n.time.push(halvesToDateTime64(time[0], time[1]));
  n.name.push(name);
  n.attrs.push(attrs);
}

function link(r: Reader, until: number, n: Nested, body: Buffer): void {
  let traceId = '';
  let spanId = '';
  let state = '';
  const attrs: Record<string, string> = {};
  while (r.pos < until) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1: traceId = hex(r, body); break;
      case 2: spanId = hex(r, body); break;
      case 3: state = r.string(); break;
      case 4: keyValue(r, end(r), attrs); break;
      default: r.skipType(t & 7);
    }
  }
  n.traceId.push(traceId);
  n.spanId.push(spanId);
  n.state.push(state);
  n.linkAttrs.push(attrs);
}

function status(r: Reader, until: number): { code: number; message: string } {
  const s = { code: 0, message: '' };
  while (r.pos < until) {
    const t = r.uint32();
    if (t >>> 3 === 2) s.message = r.string();
    else if (t >>> 3 === 3) s.code = r.int32();
    else r.skipType(t & 7);
  }
  return s;
}

/** Columns between the span's own: service, resource and scope (the same for a scope's spans; `middle` below as JSON text). */
interface Around {
  service: string;
  resource: Record<string, string>;
  scopeName: string;
  scopeVersion: string;
}

/**
 * One span → one line. `fast`: attributes through AttrBytes; the first one it will not write
 * exactly sends the whole span round again the generic way (attributes into an object), so
 * both ways give the line JSON.stringify would.
 */
function span(r: Reader, until: number, c: Ctx, middle: Buffer, fast = true): void {
  const begin = r.pos;
  let traceId = '', spanId = '', parent = '', state = '', name = '', kind = 0;
  const start: [number, number] = [0, 0], stop: [number, number] = [0, 0];
  let st = { code: 0, message: '' };
  const attrs: Record<string, string> = {};
  if (fast) ATTRS.reset();
  const n: Nested = { time: [], name: [], attrs: [], traceId: [], spanId: [], state: [], linkAttrs: [] };
  while (r.pos < until) {
    const t = r.uint32();
    switch (t >>> 3) {
      case 1: traceId = hex(r, c.body); break;
      case 2: spanId = hex(r, c.body); break;
      case 3: state = r.string(); break;
      case 4: parent = hex(r, c.body); break;
      case 5: name = r.string(); break;
      case 6: kind = r.int32(); break;
      case 7: halves(r, start); break;
      case 8: halves(r, stop); break;
      case 9: {
        const e = end(r);
        if (!fast) keyValue(r, e, attrs);
        else if (!ATTRS.keyValue(r, e, c.body)) {
          r.pos = begin;
          return span(r, until, c, middle, false);
        }
        break;
      }
      case 11: event(r, end(r), n); break;
      case 13: link(r, end(r), n, c.body); break;
      case 15: st = status(r, end(r)); break;
      default: r.skipType(t & 7);
    }
  }
  if (!validId(traceId, 32) || !validId(spanId, 16)) {
    c.rejected++;
    return;
  }
  // JSON.stringify of the whole row, in pieces: head without its `]`, the scope's columns, the
  // attributes (bytes on the fast path), and tail with its `[` turned into a comma.
  OUT.text(JSON.stringify([halvesToDateTime64(start[0], start[1]), traceId, spanId, parent, state, name, KINDS[kind] ?? 'Unspecified']));
  OUT.drop(1);
  OUT.byte(COMMA);
  OUT.copy(middle);
  OUT.byte(COMMA);
  if (fast) OUT.copy(ATTRS.view());
  else OUT.text(JSON.stringify(attrs));
  const bracket = OUT.length;
  OUT.text(JSON.stringify([halvesDiff(stop[0], stop[1], start[0], start[1]), STATUS[st.code] ?? 'Unset', st.message, n.time, n.name, n.attrs, n.traceId, n.spanId, n.state, n.linkAttrs]));
  OUT.put(bracket, COMMA);
  OUT.endLine();
}

/** Offsets [start, end) of each occurrence of `field`, the rest read by `other`: fields may come in any order. */
function ranges(r: Reader, until: number, field: number, other: (t: number) => void): [number, number][] {
  const out: [number, number][] = [];
  while (r.pos < until) {
    const t = r.uint32();
    if (t >>> 3 !== field) {
      other(t);
      continue;
    }
    const e = end(r);
    out.push([r.pos, e]);
    r.pos = e;
  }
  return out;
}

function scopeSpans(r: Reader, until: number, c: Ctx, resource: Record<string, string>): void {
  const a: Around = { service: resource['service.name'] ?? '', resource, scopeName: '', scopeVersion: '' };
  const spans = ranges(r, until, 2, (t) => {
    if (t >>> 3 !== 1) return void r.skipType(t & 7);
    const e = end(r);
    a.scopeName = '';
    a.scopeVersion = '';
    while (r.pos < e) {
      const s = r.uint32();
      if (s >>> 3 === 1) a.scopeName = r.string();
      else if (s >>> 3 === 2) a.scopeVersion = r.string();
      else r.skipType(s & 7);
    }
  });
  const middle = Buffer.from(JSON.stringify([a.service, a.resource, a.scopeName, a.scopeVersion]).slice(1, -1));
  for (const [s, e] of spans) {
    r.pos = s;
    span(r, e, c, middle);
  }
  r.pos = until;
}

function resourceSpans(r: Reader, until: number, c: Ctx): void {
  let resource: Record<string, string> = {};
  const scopes = ranges(r, until, 2, (t) => {
    if (t >>> 3 === 1) resource = attributesOf(r, end(r), 1);
    else r.skipType(t & 7);
  });
  for (const [s, e] of scopes) {
    r.pos = s;
    scopeSpans(r, e, c, resource);
  }
  r.pos = until;
}

/**
 * The lines as bytes (LineWriter): each a Buffer holding one JSONCompactEachRow line and its '\n'.
 * Throws (RangeError, Error) on a body that is not a valid protobuf message.
 */
export function protobufTraceRows(body: Buffer): Omit<MappedTraces, 'rows'> & { rows: Buffer[] } {
  const r = protobuf.Reader.create(body);
  const c: Ctx = { body, rejected: 0 };
  OUT.reset();
  while (r.pos < r.len) {
    const t = r.uint32();
    if (t >>> 3 === 1) resourceSpans(r, end(r), c);
    else r.skipType(t & 7);
  }
  return { rows: OUT.take(), rejected: c.rejected, reason: c.rejected > 0 ? `${c.rejected} span(s) without a valid trace or span id` : '' };
}

/** protobufTraceRows' lines as strings, without their '\n' (what traceLine gives for the same span). */
export function protobufTraceLines(body: Buffer): Omit<MappedTraces, 'rows'> & { lines: string[] } {
  const { rows, rejected, reason } = protobufTraceRows(body);
  return { lines: rows.map((b) => b.toString('utf8', 0, b.length - 1)), rejected, reason };
}
