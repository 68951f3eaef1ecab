import { parseArgs } from 'node:util';

export interface CommonFlags {
  config: string | undefined;
  port: number | undefined;
  host: string | undefined;
  /** Port for the collector `keel start` runs (0: any free port). */
  collectorPort: number | undefined;
  /** Port for the SLO engine's status page (0: any free port). */
  sloPort: number | undefined;
  positionals: string[];
}

function portFlag(name: string, raw: string | undefined): number | undefined {
  const port = raw === undefined ? undefined : Number(raw);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--${name} must be an integer between 0 and 65535, got "${raw}"`);
  }
  return port;
}

/** Flags every command accepts; unknown flags are an error with the usage line. */
export function parseCommon(argv: string[]): CommonFlags {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'collector-port': { type: 'string' },
      'slo-port': { type: 'string' },
    },
  });
  return { config: values.config, port: portFlag('port', values.port), host: values.host, collectorPort: portFlag('collector-port', values['collector-port']), sloPort: portFlag('slo-port', values['slo-port']), positionals };
}
