import type protobuf from 'protobufjs';
import { otlpType } from '../otlp/proto.js';
import type { AnyValue } from '../otlp/types.js';
import { asString, doubleText } from './values.js';

/**
 * A span's attributes as the JSON text of its SpanAttributes map, written as bytes straight from
 * the protobuf body: a key seen before is a hash of its bytes and a copy of its cached JSON, a
 * plain value a copy of its bytes. Reading each key and value into a string and building an
 * object for JSON.stringify was most of the collector's JavaScript time per span (profiled,
 * bench/reading.md). Whatever this does not write exactly as attributeMap + JSON.stringify would
 * (a repeated key, an array-index key that an object would order first, a key not in the cache) makes `keyValue` return false, and the caller reads the span the
 * generic way instead: the fast path only ever takes the spans it is sure of.
 */
type Reader = protobuf.Reader;

interface Key {
  bytes: Buffer;
  /** The key as a JSON string, with the `:` after it. */
  json: Buffer;
  /** An array index ("0" … "4294967294"): an object would move it first. */
  index: boolean;
  /** The span (AttrBytes.#span) that last wrote this key: a second time in one span is a repeated key. */
  span: number;
  /** The key that came after this one last time: the gateway writes a span shape's keys in one order. */
  next: Key | undefined;
}

/** Attribute keys come from a small set; past this many distinct ones a key is not cached and its span goes the generic way. */
const MAX_KEYS = 4096;

/** Slices Node's Buffer has without toString's argument checks (protobufjs reads strings with utf8Slice too). */
interface Slices {
  utf8Slice?: (start: number, end: number) => string;
}

const utf8 = (buf: Buffer & Slices, start: number, end: number): string => (buf.utf8Slice === undefined ? buf.toString('utf8', start, end) : buf.utf8Slice(start, end));

const isIndex = (key: string): boolean => /^(?:0|[1-9][0-9]{0,9})$/.test(key) && Number(key) < 4294967295;

/** A byte that JSON.stringify copies as it is (printable ASCII but `"` and `\`). */
const plainByte = (b: number): boolean => b >= 0x20 && b <= 0x7e && b !== 0x22 && b !== 0x5c;

function plain(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (!plainByte(buf[i] ?? 0)) return false;
  return true;
}

/** A signed int64 in decimal, exactly: a number when it fits in 2^53 (nearly always), else BigInt. */
export function int64Text(v: { low: number; high: number } | number): string {
  if (typeof v === 'number') return String(v);
  if (v.high > -0x200000 && v.high < 0x200000) return String(v.high * 4294967296 + (v.low >>> 0));
  return BigInt.asIntN(64, (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0)).toString();
}

const EMPTY = Buffer.from('{}');

/** Values at least this long are copied by Buffer.copy (native); shorter ones byte by byte, which is cheaper for them. */
const NATIVE_COPY = 32;

export class AttrBytes {
  readonly #keys = new Map<number, Key>();
  /** Stands before a span's first key: its `next` is the first key of the last span. */
  readonly #start: Key = { bytes: Buffer.alloc(0), json: Buffer.alloc(0), index: false, span: -1, next: undefined };
  #prev: Key = this.#start;
  #buf = Buffer.allocUnsafe(64 * 1024);
  #n = 0;
  #count = 0;
  #span = 0;

  /** Starts a span's map. */
  reset(): void {
    this.#n = 0;
    this.#count = 0;
    this.#span++;
    this.#prev = this.#start;
  }

  /** The map written since reset, as JSON text. */
  text(): string {
    return this.view().toString('utf8');
  }

  /** The map written since reset, as JSON bytes: a view of this writer's buffer, good until the next reset. Call once per span. */
  view(): Buffer {
    if (this.#count === 0) return EMPTY;
    this.#ensure(1);
    this.#buf[this.#n++] = 0x7d;
    return this.#buf.subarray(0, this.#n);
  }

  /** One KeyValue message `[r.pos, until)` of `body`; false: not one this path writes exactly (see above). */
  keyValue(r: Reader, until: number, body: Buffer): boolean {
    let key: Key | undefined;
    let value = -1;
    let valueEnd = -1;
    while (r.pos < until) {
      const t = r.uint32();
      if (t >>> 3 === 1 || t >>> 3 === 2) {
        const len = r.uint32();
        const s = r.pos;
        const e = s + len;
        if (e > until) throw new RangeError('length beyond the message');
        r.pos = e;
        if (t >>> 3 === 2) {
          value = s;
          valueEnd = e;
          continue;
        }
        key = this.#next(body, s, e);
        if (key === undefined) return false;
      } else r.skipType(t & 7);
    }
    if (key === undefined || key.index || key.span === this.#span) return false;
    key.span = this.#span;
    const mark = this.#n;
    this.#bytes(this.#count === 0 ? '{' : ',');
    this.#copy(key.json, 0, key.json.length);
    if (value < 0) this.#bytes('""');
    else if (!this.#anyValue(r, value, valueEnd, body)) {
      this.#n = mark;
      return false;
    }
    r.pos = until;
    this.#count++;
    return true;
  }

  /**
   * The key after the previous one last time, when these bytes are it (one comparison instead of
   * a hash and a comparison: #key was the fast path's largest self time, profiled); else #key.
   * Equal bytes mean equal hashes, and the map never replaces an entry, so both give the same Key.
   */
  #next(body: Buffer, start: number, end: number): Key | undefined {
    const guess = this.#prev.next;
    const key = guess !== undefined && this.#same(guess.bytes, body, start, end) ? guess : this.#key(body, start, end);
    if (key !== undefined) {
      this.#prev.next = key;
      this.#prev = key;
    }
    return key;
  }

  #key(body: Buffer, start: number, end: number): Key | undefined {
    let h = 0x811c9dc5 ^ (end - start);
    for (let i = start; i < end; i++) h = Math.imul(h ^ (body[i] ?? 0), 0x01000193);
    const hit = this.#keys.get(h);
    if (hit !== undefined) return this.#same(hit.bytes, body, start, end) ? hit : undefined;
    if (this.#keys.size >= MAX_KEYS) return undefined;
    const key = utf8(body, start, end);
    const entry: Key = { bytes: Buffer.from(body.subarray(start, end)), json: Buffer.from(`${JSON.stringify(key)}:`), index: isIndex(key), span: 0, next: undefined };
    this.#keys.set(h, entry);
    return entry;
  }

  #same(bytes: Buffer, body: Buffer, start: number, end: number): boolean {
    if (bytes.length !== end - start) return false;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== body[start + i]) return false;
    return true;
  }

  /** An AnyValue as asString's text, quoted; arrays and maps (finish_reasons) through the generic decoder, as trace-wire's anyValue does. */
  #anyValue(r: Reader, start: number, until: number, body: Buffer): boolean {
    r.pos = start;
    let str = -1, strEnd = -1;
    let bool: boolean | undefined;
    let int: string | undefined;
    let dbl: number | undefined;
    let bytes: Uint8Array | undefined;
    let nested = false;
    while (r.pos < until) {
      const t = r.uint32();
      switch (t >>> 3) {
        case 1: {
          const len = r.uint32();
          str = r.pos;
          strEnd = str + len;
          if (strEnd > until) throw new RangeError('length beyond the message');
          r.pos = strEnd;
          break;
        }
        case 2: bool = r.bool(); break;
        case 3: int = int64Text(r.int64()); break;
        case 4: dbl = r.double(); break;
        case 7: bytes = r.bytes(); break;
        case 5: case 6: nested = true; r.skipType(t & 7); break;
        default: r.skipType(t & 7);
      }
    }
    if (str >= 0) {
      if (!this.#plainString(body, str, strEnd)) this.#text(JSON.stringify(utf8(body, str, strEnd)));
    } else if (bool !== undefined) this.#bytes(bool ? '"true"' : '"false"');
    else if (int !== undefined) this.#bytes(`"${int}"`);
    else if (dbl !== undefined) this.#bytes(`"${doubleText(dbl)}"`);
    else if (bytes !== undefined) this.#bytes(`"${Buffer.from(bytes).toString('base64')}"`);
    else if (nested) {
      const type = otlpType('AnyValue');
      const v: AnyValue = type.toObject(type.decode(body.subarray(start, until)), { longs: String, enums: Number, defaults: false, oneofs: false });
      this.#text(JSON.stringify(asString(v)));
    } else this.#bytes('""');
    return true;
  }

  #ensure(extra: number): void {
    if (this.#n + extra <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#n + extra));
    this.#buf.copy(bigger, 0, 0, this.#n);
    this.#buf = bigger;
  }

  /** ASCII text (quotes, digits, base64, literals). */
  #bytes(s: string): void {
    this.#ensure(s.length);
    for (let i = 0; i < s.length; i++) this.#buf[this.#n++] = s.charCodeAt(i);
  }

  /** Any text, UTF-8 encoded (an escaped value). */
  #text(s: string): void {
    this.#ensure(Buffer.byteLength(s));
    this.#n += this.#buf.write(s, this.#n);
  }

  #copy(src: Buffer, start: number, end: number): void {
    this.#ensure(end - start);
    if (end - start >= NATIVE_COPY) this.#n += src.copy(this.#buf, this.#n, start, end);
    else for (let i = start; i < end; i++) this.#buf[this.#n++] = src[i] ?? 0;
  }

  /**
   * A string value quoted, when JSON.stringify would copy its bytes as they are (see plain); false,
   * nothing written, when not. Short values are checked while copied, one pass instead of two.
   */
  #plainString(body: Buffer, start: number, end: number): boolean {
    if (end - start >= NATIVE_COPY) {
      if (!plain(body, start, end)) return false;
      this.#bytes('"');
      this.#copy(body, start, end);
      this.#bytes('"');
      return true;
    }
    this.#ensure(end - start + 2);
    const mark = this.#n;
    const buf = this.#buf;
    let n = mark;
    buf[n++] = 0x22;
    for (let i = start; i < end; i++) {
      const b = body[i] ?? 0;
      if (!plainByte(b)) return false;
      buf[n++] = b;
    }
    buf[n++] = 0x22;
    this.#n = n;
    return true;
  }
}
