/**
 * One export's insert lines written as bytes into one reused buffer, then handed out as views of
 * a single copy: each line a Buffer ending in its '\n', so a group's insert body is a concat of
 * its lines and a spool file their bytes as they are. Lines built as strings were encoded three
 * more times on their way to ClickHouse (JSON.stringify into the spool file, join, Buffer.from at
 * the insert) and held the JavaScript heap's largest garbage (bench/reading.md, the collector
 * again). One process, one thread: the collector decodes one request at a time.
 */
export class LineWriter {
  #buf = Buffer.allocUnsafe(1024 * 1024);
  #n = 0;
  readonly #ends: number[] = [];

  reset(): void {
    this.#n = 0;
    this.#ends.length = 0;
  }

  get length(): number {
    return this.#n;
  }

  #ensure(extra: number): void {
    if (this.#n + extra <= this.#buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#n + extra));
    this.#buf.copy(bigger, 0, 0, this.#n);
    this.#buf = bigger;
  }

  /** Any text, UTF-8 encoded (at most 3 bytes per UTF-16 unit). */
  text(s: string): void {
    this.#ensure(s.length * 3);
    this.#n += this.#buf.write(s, this.#n);
  }

  byte(b: number): void {
    this.#ensure(1);
    this.#buf[this.#n++] = b;
  }

  copy(src: Uint8Array): void {
    this.#ensure(src.length);
    this.#buf.set(src, this.#n);
    this.#n += src.length;
  }

  /** Overwrites one byte already written (a JSON array's bracket turned into a comma). */
  put(at: number, b: number): void {
    if (at < 0 || at >= this.#n) throw new RangeError('outside the written bytes');
    this.#buf[at] = b;
  }

  /** Forgets the last `count` bytes written. */
  drop(count: number): void {
    this.#n = Math.max(0, this.#n - count);
  }

  endLine(): void {
    this.byte(0x0a);
    this.#ends.push(this.#n);
  }

  /** The lines ended since reset, each a view (with its '\n') of one new Buffer; bytes after the last line are left out. */
  take(): Buffer[] {
    const last = this.#ends.at(-1) ?? 0;
    const copy = Buffer.allocUnsafeSlow(last);
    this.#buf.copy(copy, 0, 0, last);
    let start = 0;
    return this.#ends.map((e) => {
      const line = copy.subarray(start, e);
      start = e;
      return line;
    });
  }
}
