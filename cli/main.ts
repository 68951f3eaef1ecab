import { ConfigError } from '../config/index.js';
import { parseCommon } from './args.js';

const USAGE = `Usage: keel <command> [--config keel.yaml] [--port N] [--host H] [--collector-port N] [--slo-port N]

Commands:
  start       gateway + collector with embedded ClickHouse (simulated providers when there is
              no keel.yaml and no provider keys)
  gateway     the gateway alone, sending telemetry to the configured collector
  collector   the OTLP collector alone, writing to ClickHouse (embedded or telemetry.store.url)
  query SQL   read-only SQL over Keel's ClickHouse (llm_requests, llm_attempts, sli_1m, otel_traces, audit_log)
  query audit [N]  the newest N rows of the audit log (default 50)
  slo status  error budgets, burn rates and firing alerts from the running SLO engine
  slo rules [DIR]  Grafana alert rules and Prometheus rules from the SLO specs (default DIR: alerts)
  demo        gateway + simulated providers, with examples to try
  simulator   simulated OpenAI/Anthropic-compatible providers
  check       validate a config file (file:line:col: reason for each problem)
  keys create --team T  a new client key and its auth.keys entry (key_sha256)

Config: --config, else $KEEL_CONFIG, else ./keel.yaml, else the built-in demo.
`;

/** Entry point: returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  // Its own flags (--team, --routes, …): not the serving commands'.
  if (command === 'keys') return (await import('./commands/keys.js')).keys(rest);
  let flags;
  try {
    flags = parseCommon(rest);
  } catch (err) {
    process.stderr.write(`keel ${command}: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(command, flags);
  } catch (err) {
    // A bad keel.yaml is the user's to fix: file, line and reason, no stack trace.
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`keel ${command}: ${err.message}\nFix the file (keel check shows every problem), then run the command again.\n`);
    return 1;
  }
}

/**
 * Commands load only what they use: the collector, query and slo commands bring embedded
 * ClickHouse (a native library of several hundred MB), which a gateway process must not map.
 */
async function run(command: string, flags: ReturnType<typeof parseCommon>): Promise<number> {
  switch (command) {
    case 'start':
    case 'gateway':
    case 'demo':
      return (await import('./commands/serve.js')).serve(flags, command);
    case 'simulator':
      return (await import('./commands/simulator.js')).simulator(flags);
    case 'collector':
      return (await import('./commands/collector.js')).collector(flags);
    case 'query':
      return (await import('./commands/query.js')).query(flags);
    case 'slo':
      return (await import('./commands/slo.js')).slo(flags);
    case 'check':
      return (await import('./commands/check.js')).check(flags);
    default:
      process.stderr.write(`keel: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
