import { ConfigError, formatConfigIssues, loadConfigFile, resolveConfigPath } from '../../config/index.js';
import { providerRules } from '../../gateway/providers/index.js';
import type { CommonFlags } from '../args.js';

/** `keel check`: validate a config file; every problem as file:line:col: path: reason. */
export async function check(flags: CommonFlags): Promise<number> {
  const path = flags.positionals[0] ?? resolveConfigPath(flags.config);
  if (path === undefined) {
    process.stderr.write('keel check: no config file found. Pass one (`keel check keel.yaml` or --config), or set KEEL_CONFIG.\n');
    return 2;
  }
  try {
    const config = loadConfigFile(path, providerRules);
    const routes = Object.keys(config.routes).length;
    const providers = Object.keys(config.providers).length;
    process.stdout.write(`${path}: OK (${providers} providers, ${routes} routes)\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${formatConfigIssues(err.issues)}\n${err.issues.length} problem(s); the file was not accepted.\n`);
    return 1;
  }
}
