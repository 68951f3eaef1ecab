/** canonical-json.ts as it was before issue 18's allocation work (commit f9d26db): the reference the new one must print identically to. */

/** Objects nested deeper than this print as one marker: a parsed request body is far shallower. */
const MAX_DEPTH = 200;

export function canonicalJsonBefore(value: unknown): string {
  const out: string[] = [];
  write(value, out, new Set<object>(), 0);
  return out.join('');
}

function write(value: unknown, out: string[], seen: Set<object>, depth: number): void {
  switch (typeof value) {
    case 'string':
      // Well-formed JSON.stringify escapes lone surrogates, so distinct strings stay distinct.
      out.push(JSON.stringify(value));
      return;
    case 'number':
      // -0 and 0 are the same parameter value; NaN and ±Infinity are not `null`.
      out.push(Number.isFinite(value) ? JSON.stringify(value === 0 ? 0 : value) : String(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(`${value.toString()}n`);
      return;
    case 'undefined':
      out.push('undefined');
      return;
    case 'object':
      if (value === null) out.push('null');
      else writeObject(value, out, seen, depth);
      return;
    default:
      // Functions and symbols never come from a JSON body; they still must not throw.
      out.push(`<${typeof value}>`);
  }
}

function writeObject(value: object, out: string[], seen: Set<object>, depth: number): void {
  if (seen.has(value)) {
    out.push('<cycle>');
    return;
  }
  if (depth >= MAX_DEPTH) {
    out.push('<deep>');
    return;
  }
  seen.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    // An index loop, not forEach: holes in a sparse array print as `undefined`, keeping positions.
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      write((value as unknown[])[i], out, seen, depth + 1);
    }
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    const record = value as Record<string, unknown>;
    for (const k of Object.keys(record).sort()) {
      const v = record[k];
      // An absent field and one set to undefined are the same request (JSON drops both).
      if (v === undefined) continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      write(v, out, seen, depth + 1);
    }
    out.push('}');
  }
  seen.delete(value);
}
