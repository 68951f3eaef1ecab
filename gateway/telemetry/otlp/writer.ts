/**
 * A protobuf writer for one message at a time into a reused, growable buffer: one pass, no
 * size estimate. A length-delimited field reserves the varint size its length will most
 * likely need and moves the body only when the guess was wrong (the SDK's writer walks every
 * span twice: a size pass, then a write pass that reserves one byte and shifts every body
 * over 127 bytes, i.e. every span and every captured-content attribute).
 *
 * Every integer path mirrors @opentelemetry/otlp-transformer 0.223's ProtobufWriter bit for
 * bit (negative and beyond-32-bit varints, non-integers) so the output is byte-identical.
 */

/** Scratch kept between messages; a group with big captured content may grow it, then it is let go. */
const INITIAL_BYTES = 64 * 1024;
const KEEP_BYTES = 1024 * 1024;

/**
 * Strings up to this many UTF-16 units are copied by a JS loop while they stay ASCII; longer
 * ones (and any non-ASCII one) go to Buffer#write, whose native call costs more than the loop
 * for short strings. bench/span-encode.ts, 15 rounds: 2.68 µs/span with 48, 3.04 with every
 * string through Buffer#write, 2.79 with 256. (Ids likewise: Buffer#write 'hex' was 2.88.)
 */
const JS_ASCII_MAX = 48;

export function varintSize(v: number): number {
  if (v < 0) return 10;
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  if (v < 0x800000000) return 5;
  if (v < 0x40000000000) return 6;
  if (v < 0x2000000000000) return 7;
  if (v < 0x100000000000000) return 8;
  return 9;
}

export class ProtoWriter {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.#grow(n);
  }

  #grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** The message written so far, copied out (the scratch is reused), and the writer reset. */
  take(): Uint8Array {
    const out = new Uint8Array(this.pos);
    out.set(this.buf.subarray(0, this.pos));
    this.pos = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafe(INITIAL_BYTES);
    return out;
  }

  /** A tag or any value < 128, as one byte. */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Reserves `reserve` bytes for a length; returns where it goes, for end(). */
  begin(reserve: number): number {
    this.ensure(reserve);
    const at = this.pos;
    this.pos += reserve;
    return at;
  }

  /** Writes the length of what followed begin(), moving the body if the reserve was wrong. */
  end(at: number, reserve: number): void {
    const len = (this.pos - at - reserve) >>> 0;
    const size = varintSize(len);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(at + size, at + reserve, this.pos);
      this.pos += size - reserve;
    }
    const b = this.buf;
    let p = at;
    let v = len;
    while (v > 0x7f) {
      b[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[p] = v;
  }

  varint(value: number): void {
    this.ensure(10);
    const b = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        b[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[this.pos++] = v;
      return;
    }
    this.#varint64(value);
  }

  /** Beyond 32 bits or negative: two's complement over [low, high], as the SDK's writer does. */
  #varint64(value: number): void {
    const abs = value >= 0 ? value : Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 0x100000000) >>> 0;
    if (!(value >= 0)) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    const b = this.buf;
    while (high > 0 || low > 0x7f) {
      b[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[this.pos++] = low & 0x7f;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Length-delimited UTF-8 (lone surrogates become U+FFFD, as TextEncoder writes them). */
  string(s: string): void {
    const n = s.length;
    const reserve = varintSize(n); // UTF-8 never has fewer bytes than UTF-16 units
    this.ensure(reserve + 3 * n);
    const b = this.buf;
    const at = this.pos;
    let p = at + reserve;
    let i = 0;
    if (n <= JS_ASCII_MAX) {
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        b[p++] = c;
      }
    }
    const len = i === n ? n : b.write(s, at + reserve, 'utf8');
    this.pos = at + reserve + len;
    this.end(at, reserve);
  }

  /** Bytes already encoded (a cached key): copied, with no length prefix added. */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(bytes: Uint8Array): void {
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Hex id → length-delimited bytes, with the SDK's hexToBinary digit rule (any char, not only hex). */
  hex(id: string): void {
    const n = id.length / 2;
    if (!Number.isInteger(n)) throw new RangeError(`odd-length id: ${id.length}`);
    this.varint(n);
    this.ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < id.length; i += 2) b[p++] = (digit(id.charCodeAt(i)) << 4) | digit(id.charCodeAt(i + 1));
    this.pos = p;
  }
}

function digit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}
