/**
 * A deterministic, key-order-independent text for any value, for hashing into cache keys.
 *
 * JSON.stringify is neither: `{a,b}` and `{b,a}` differ, and NaN, Infinity and `null` all
 * print `null` (two different requests would share an answer). Here object keys are sorted,
 * and the values JSON cannot express print as bare words no JSON text can contain, so the
 * output is injective over JSON values and total over everything else (it never throws).
 *
 * Built by string concatenation, keys sorted in place (bench:alloc, issue 18): an array of parts
 * joined at the end and `keys.sort()` (whose merge sort copies the array into a work area) were
 * ~3.4 KB of the ~118 KB a request allocated. The text is the same as before, byte for byte
 * (test/cache/canonical-json.test.ts holds the two to it), so cache keys did not change.
 */

/** Objects nested deeper than this print as one marker: a parsed request body is far shallower. */
const MAX_DEPTH = 200;

export function canonicalJson(value: unknown): string {
  return write(value, [], 0);
}

/** `ancestors`: the objects being printed around this value, to print a cycle as a marker (shallow: a scan beats a Set). */
function write(value: unknown, ancestors: object[], depth: number): string {
  switch (typeof value) {
    case 'string':
      // Well-formed JSON.stringify escapes lone surrogates, so distinct strings stay distinct.
      return JSON.stringify(value);
    case 'number':
      // -0 and 0 are the same parameter value; NaN and ±Infinity are not `null`.
      return Number.isFinite(value) ? JSON.stringify(value === 0 ? 0 : value) : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value.toString()}n`;
    case 'undefined':
      return 'undefined';
    case 'object':
      return value === null ? 'null' : writeObject(value, ancestors, depth);
    default:
      // Functions and symbols never come from a JSON body; they still must not throw.
      return `<${typeof value}>`;
  }
}

function writeObject(value: object, ancestors: object[], depth: number): string {
  if (ancestors.includes(value)) return '<cycle>';
  if (depth >= MAX_DEPTH) return '<deep>';
  ancestors.push(value);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    // An index loop, not forEach: holes in a sparse array print as `undefined`, keeping positions.
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + write((value as unknown[])[i], ancestors, depth + 1);
    out += ']';
  } else {
    out = '{';
    let first = true;
    const record = value as Record<string, unknown>;
    for (const k of sortKeys(Object.keys(record))) {
      const v = record[k];
      // An absent field and one set to undefined are the same request (JSON drops both).
      if (v === undefined) continue;
      out += (first ? '' : ',') + JSON.stringify(k) + ':' + write(v, ancestors, depth + 1);
      first = false;
    }
    out += '}';
  }
  ancestors.pop();
  return out;
}

/**
 * The order of `keys.sort()` (UTF-16 code units, which is what `<` compares on strings), by
 * insertion in place: a request's objects have a handful of keys. Long lists keep the builtin.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 32) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > k; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = k;
  }
  return keys;
}
