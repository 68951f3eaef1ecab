import { isPair, isScalar, isSeq, parse as parseYaml, visit, type Document, type LineCounter } from 'yaml';
import { formatPath, type ConfigIssue } from './errors.js';

const REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/;

/**
 * Substitutes `${VAR}` / `${VAR:-default}` in string values of the parsed document
 * (`$${` is a literal `${`). Done on parsed scalars, not on the text, so an env value
 * can never add YAML structure and every line number stays true. Returns the
 * substituted values so error messages can be scrubbed of them.
 */
export function interpolate(doc: Document, env: Record<string, string | undefined>, file: string, lines: LineCounter, issues: ConfigIssue[]): string[] {
  const secrets: string[] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const text = node.value;
      const missing: string[] = [];
      const replaced = text.replace(REF, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$${') return '${';
        const value = env[name ?? ''] ?? fallback;
        if (value === undefined) missing.push(name ?? '');
        else if (value !== '') secrets.push(value);
        return value ?? '';
      });
      for (const name of missing) {
        const pos = lines.linePos(node.range?.[0] ?? 0);
        issues.push({ file, line: pos.line, column: pos.col, path: formatPath(keysOf([...path, node])), message: `environment variable ${name} is not set` });
      }
      node.value = WHOLE.test(text) ? reread(replaced) : replaced;
    },
  });
  return secrets;
}

/** The config path of a node from its ancestors: pair keys, and list positions. */
function keysOf(ancestors: readonly unknown[]): PropertyKey[] {
  const keys: PropertyKey[] = [];
  ancestors.forEach((a, i) => {
    if (isPair(a) && isScalar(a.key)) keys.push(a.key.value as PropertyKey);
    else if (isSeq(a)) keys.push(a.items.indexOf(ancestors[i + 1]));
  });
  return keys;
}

/** `port: ${PORT}` should be a number: a whole-value reference is re-read as a YAML scalar, never a structure. */
function reread(value: string): unknown {
  try {
    const v: unknown = parseYaml(value);
    return typeof v === 'number' || typeof v === 'boolean' ? v : value;
  } catch {
    return value;
  }
}
