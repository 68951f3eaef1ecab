import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { effectiveSlos, statusText, type StatusView } from '../../slo/index.js';
import { grafanaRules, prometheusRules } from '../../slo/rules.js';
import type { CommonFlags } from '../args.js';
import { layoutOf } from '../../store/layout.js';
import { keelConfig } from '../reload.js';
import { collectorFile, telemetryConfig } from './collector.js';

/** The datasource uid dashboards/provisioning pins (dashboards/src/common.ts). */
const DATASOURCE_UID = 'keel-clickhouse';

/** `keel slo rules [DIR]`: Grafana alert-rule provisioning and Prometheus rules from the SLO specs. */
function writeRules(flags: CommonFlags, dir: string): number {
  const config = keelConfig(flags);
  const specs = effectiveSlos(config.slo, Object.keys(config.routes));
  const grafana = join(dir, 'keel-slo-rules.yaml');
  const prometheus = join(dir, 'prometheus', 'keel-slo.rules.yml');
  mkdirSync(join(dir, 'prometheus'), { recursive: true });
  // On a sharded cluster the rules read the Distributed tables, as the SLO engine does.
  writeFileSync(grafana, grafanaRules(specs, { datasourceUid: DATASOURCE_UID, folder: 'Keel SLOs', layout: layoutOf(config.telemetry.store) }));
  writeFileSync(prometheus, prometheusRules(specs));
  process.stdout.write(`keel slo rules: ${specs.length} SLO(s) → ${grafana} (Grafana alerting provisioning), ${prometheus} (Prometheus rules)\n`);
  return 0;
}

/** `keel slo status`: the running SLO engine's budgets, burn rates and alerts, in the terminal. */
export async function slo(flags: CommonFlags): Promise<number> {
  const [sub, outDir] = flags.positionals;
  if (sub === 'rules') return writeRules(flags, outDir ?? 'alerts');
  if (sub !== 'status') {
    process.stderr.write('keel slo: use `keel slo status` or `keel slo rules [DIR]`\n');
    return 2;
  }
  const token = keelConfig(flags).slo.token;
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
    const res = await fetch(`${url}/api/status`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    if (res.status === 401) {
      process.stderr.write(`keel slo status: the SLO engine at ${url} wants slo.token; set it in the config this command reads.\n`);
      return 1;
    }
    process.stdout.write(statusText((await res.json()) as StatusView));
    return 0;
  } catch (err) {
    process.stderr.write(`keel slo status: cannot reach the SLO engine at ${url} (${err instanceof Error ? err.message : String(err)}).\n`);
    return 1;
  }
}
