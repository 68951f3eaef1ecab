import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { z } from 'zod';
import { formatPath, type ConfigIssue } from './errors.js';

type Path = readonly PropertyKey[];

/** The deepest node that exists along `path`, and how much of the path it covers. */
function deepest(doc: Document, path: Path): { node: Node | undefined; depth: number } {
  let node = doc.contents ?? undefined;
  let depth = 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === seg);
      if (pair === undefined) break;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number' && node.items[seg] !== undefined) {
      node = node.items[seg] as Node;
    } else break;
    depth++;
  }
  return { node: node ?? undefined, depth };
}

function keyNode(doc: Document, path: Path, key: string): Node | undefined {
  const { node } = deepest(doc, path);
  if (!isMap(node)) return undefined;
  const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
  return (pair?.key as Node | undefined) ?? undefined;
}

function position(lines: LineCounter, node: Node | undefined): { line: number; column: number } {
  const pos = lines.linePos(node?.range?.[0] ?? 0);
  return { line: pos.line, column: pos.col };
}

/** Edit distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] ?? 0;
      row[j] = Math.min(cur + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] ?? 0;
}

function describe(node: Node | undefined): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return node.value === null ? 'nothing' : typeof node.value === 'string' ? 'a string' : `a ${typeof node.value}`;
  return 'nothing';
}

type Issue = z.core.$ZodIssue;

function message(issue: Issue, doc: Document): string {
  const { node, depth } = deepest(doc, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (depth < issue.path.length) return `missing required key "${String(issue.path[issue.path.length - 1])}"`;
      return `expected ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, got ${describe(node)}`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'url' ? 'must be an http(s) URL' : `must be a valid ${issue.format}`;
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${String(issue.minimum)} item(s)` : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`;
    case 'unrecognized_keys':
      return ''; // expanded per key by the caller
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

/** zod issues → located, plain-English config issues; unknown keys point at each key's own line. */
export function locateIssues(issues: readonly Issue[], doc: Document, lines: LineCounter, file: string, allowed: (path: Path) => string[] | undefined): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const options = allowed(issue.path) ?? [];
      for (const key of issue.keys) {
        const near = options.find((o) => distance(o, key) <= 2);
        const hint = near === undefined ? '' : ` — did you mean "${near}"?`;
        const list = options.length > 0 ? ` (allowed: ${options.join(', ')})` : '';
        out.push({ file, ...position(lines, keyNode(doc, issue.path, key)), path: formatPath([...issue.path, key]), message: `unknown key "${key}"${hint}${list}` });
      }
      continue;
    }
    const { node } = deepest(doc, issue.path);
    out.push({ file, ...position(lines, node), path: formatPath(issue.path), message: message(issue, doc) });
  }
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}
