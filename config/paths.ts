import { existsSync } from 'node:fs';

/** `--config`, else $KEEL_CONFIG, else ./keel.yaml when present; undefined means the built-in config. */
export function resolveConfigPath(flag?: string, env: Record<string, string | undefined> = process.env): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.KEEL_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return existsSync('keel.yaml') ? 'keel.yaml' : undefined;
}
