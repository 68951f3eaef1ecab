import { varintSize, type ProtoWriter } from './writer.js';

/**
 * OTLP common.proto (KeyValue, AnyValue, ArrayValue, KeyValueList) as
 * @opentelemetry/otlp-transformer 0.223's common-serializer writes them: the same fields in
 * the same order, the same int/double split, nothing written for a value of no known type.
 */

/**
 * A KeyValue's key field (tag, length, UTF-8), cached per key string: Keel writes the same
 * ~40 keys on every span. Bounded, because keys are not all Keel's (keel.key.meta.* come from
 * key metadata, event and link attributes from anyone): past the bound a key is encoded each time.
 */
const KEY_CACHE_MAX = 2048;
const keyBytes = new Map<string, Uint8Array>();

function encodeKey(key: string): Uint8Array {
  const utf8 = Buffer.from(key, 'utf8');
  const out = new Uint8Array(1 + varintSize(utf8.length) + utf8.length);
  out[0] = 0x0a; // KeyValue.key: field 1, length-delimited
  let p = 1;
  let v = utf8.length;
  while (v > 0x7f) {
    out[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[p++] = v;
  out.set(utf8, p);
  return out;
}

function writeKey(w: ProtoWriter, key: string): void {
  let bytes = keyBytes.get(key);
  if (bytes === undefined) {
    if (keyBytes.size >= KEY_CACHE_MAX) {
      w.byte(0x0a);
      w.string(key);
      return;
    }
    bytes = encodeKey(key);
    keyBytes.set(key, bytes);
  }
  w.raw(bytes);
}

/** Keys cached now (tests check the bound). */
export const cachedKeys = (): number => keyBytes.size;

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** An attribute map as repeated KeyValue in field `field` (own enumerable keys, in for-in order). */
export function writeAttributes(w: ProtoWriter, attributes: object, field: number): void {
  const tag = (field << 3) | 2;
  const map = attributes as Record<string, unknown>;
  for (const key in map) {
    if (!Object.prototype.hasOwnProperty.call(map, key)) continue;
    w.varint(tag);
    const kv = w.begin(1);
    writeKey(w, key);
    w.byte(0x12); // KeyValue.value: field 2, length-delimited
    const value = w.begin(1);
    writeAnyValue(w, map[key]);
    w.end(value, 1);
    w.end(kv, 1);
  }
}

/** The body of an AnyValue (its oneof field), for one raw attribute value. */
function writeAnyValue(w: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      w.byte(0x0a); // string_value = 1
      w.string(value);
      return;
    case 'boolean':
      w.byte(0x10); // bool_value = 2
      w.byte(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.byte(0x18); // int_value = 3
        w.varint(value);
      } else {
        w.byte(0x21); // double_value = 4
        w.double(value);
      }
      return;
    case 'object':
      if (value !== null) writeObject(w, value);
      return;
    default:
  }
}

function writeObject(w: ProtoWriter, value: object): void {
  if (value instanceof Uint8Array) {
    w.byte(0x3a); // bytes_value = 7
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.byte(0x2a); // array_value = 5
    const array = w.begin(1);
    for (const item of value as unknown[]) {
      w.byte(0x0a); // ArrayValue.values = 1
      const at = w.begin(1);
      writeAnyValue(w, item);
      w.end(at, 1);
    }
    w.end(array, 1);
  } else {
    w.byte(0x32); // kvlist_value = 6
    const list = w.begin(1);
    writeAttributes(w, value, 1);
    w.end(list, 1);
  }
}
