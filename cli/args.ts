import { parseArgs } from 'node:util';

export interface CommonFlags {
  config: string | undefined;
  port: number | undefined;
  host: string | undefined;
  positionals: string[];
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
    },
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new Error(`--port must be an integer between 0 and 65535, got "${values.port}"`);
  }
  return { config: values.config, port, host: values.host, positionals };
}
