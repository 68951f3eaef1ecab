/** One problem in a config file, located for a human: `keel.yaml:12:7: routes.chat.targets[0].weight: …`. */
export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem is the file itself (missing, unreadable). */
  line: number;
  column: number;
  /** Dotted path with [i] for list items; empty for the whole document. */
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly code = 'KEEL_CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const file = issues[0]?.file ?? 'config';
    super(`${issues.length} problem${issues.length === 1 ? '' : 's'} in ${file}:\n${formatConfigIssues(issues)}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => {
      const where = i.line > 0 ? `${i.file}:${i.line}:${i.column}` : i.file;
      return i.path === '' ? `${where}: ${i.message}` : `${where}: ${i.path}: ${i.message}`;
    })
    .join('\n');
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}
