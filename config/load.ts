import { readFileSync } from 'node:fs';
import { LineCounter, isMap, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.js';
import { interpolate } from './interpolate.js';
import { locateIssues } from './locate.js';
import { buildConfigSchema, type KeelConfig } from './schema.js';

export interface LoadOptions {
  providerTypes: readonly [string, ...string[]];
  /** Provider types with no default endpoint: their entries must give base_url. */
  requireBaseUrl?: readonly string[];
  env?: Record<string, string | undefined>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Keys a strict object at `path` allows, read off the schema (for "unknown key" messages). */
function allowedKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let s: unknown = schema;
  const def = (x: unknown) => (x as { def?: Record<string, unknown> }).def ?? {};
  const unwrap = () => {
    while (['optional', 'default', 'nullable', 'prefault', 'pipe'].includes(String(def(s).type))) s = def(s).innerType ?? def(s).in;
  };
  for (const seg of path) {
    unwrap();
    const d = def(s);
    if (d.type === 'object') s = (d.shape as Record<string, unknown>)[String(seg)];
    else if (d.type === 'record') s = d.valueType;
    else if (d.type === 'array') s = d.element;
    else return undefined;
  }
  unwrap();
  const d = def(s);
  return d.type === 'object' ? Object.keys(d.shape as Record<string, unknown>) : undefined;
}

function scrub(issues: ConfigIssue[], secrets: string[]): ConfigIssue[] {
  const long = secrets.filter((s) => s.length >= 4);
  if (long.length === 0) return issues;
  return issues.map((i) => ({ ...i, message: long.reduce((m, s) => m.split(s).join('***'), i.message) }));
}

/** Parses and validates keel.yaml text. Throws ConfigError listing every problem with its line. */
export function loadConfigText(text: string, file: string, opts: LoadOptions): KeelConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const at = (line = 1, column = 1) => ({ file, line, column, path: '' });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ ...at(e.linePos?.[0].line, e.linePos?.[0].col), message: e.message.split('\n')[0] ?? e.message })));
  }
  if (doc.contents === null) throw new ConfigError([{ ...at(), message: 'the file is empty; start from keel.example.yaml' }]);
  if (!isMap(doc.contents)) throw new ConfigError([{ ...at(), message: 'the top level must be a mapping (server:, providers:, routes:, …)' }]);
  const issues: ConfigIssue[] = [];
  const secrets = interpolate(doc, opts.env ?? process.env, file, lines, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  const schema = buildConfigSchema(opts.providerTypes, opts.requireBaseUrl ?? []);
  const result = schema.safeParse(doc.toJS());
  if (!result.success) {
    throw new ConfigError(scrub(locateIssues(result.error.issues, doc, lines, file, (p) => allowedKeys(schema, p)), secrets));
  }
  return deepFreeze(result.data);
}

export function loadConfigFile(path: string, opts: LoadOptions): KeelConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read the file (${(err as Error).message})`;
    throw new ConfigError([
      { file: path, line: 0, column: 0, path: '', message: `${reason}. Pass --config FILE, set KEEL_CONFIG, or run without a config for the built-in demo.` },
    ]);
  }
  return loadConfigText(text, path, opts);
}
