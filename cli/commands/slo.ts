import { readFileSync } from 'node:fs';
import { statusText, type StatusView } from '../../slo/index.js';
import type { CommonFlags } from '../args.js';
import { collectorFile, telemetryConfig } from './collector.js';

/** `keel slo status`: the running SLO engine's budgets, burn rates and alerts, in the terminal. */
export async function slo(flags: CommonFlags): Promise<number> {
  const [sub] = flags.positionals;
  if (sub !== 'status') {
    process.stderr.write('keel slo: use `keel slo status`\n');
    return 2;
  }
  let url: string | undefined;
  try {
    url = (JSON.parse(readFileSync(collectorFile(telemetryConfig(flags)), 'utf8')) as { slo?: string }).slo;
  } catch {
    url = undefined;
  }
  if (url === undefined) {
    process.stderr.write('keel slo status: no SLO engine is running here. Start Keel with `keel start` (or `keel collector`) first.\n');
    return 1;
  }
  try {
    const view = (await (await fetch(`${url}/api/status`, { signal: AbortSignal.timeout(10_000) })).json()) as StatusView;
    process.stdout.write(statusText(view));
    return 0;
  } catch (err) {
    process.stderr.write(`keel slo status: cannot reach the SLO engine at ${url} (${err instanceof Error ? err.message : String(err)}).\n`);
    return 1;
  }
}
