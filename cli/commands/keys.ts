import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { hashKey } from '../../config/secret.js';

const USAGE = `Usage: keel keys create --team TEAM [--id ID] [--customer NAME] [--routes a,b*] [--expires 2027-01-01T00:00:00Z]

Generates a client key and prints it once, with the auth.keys entry to paste into keel.yaml.
The entry holds only the key's SHA-256 (key_sha256), so the key itself need not sit in the file.
`;

/**
 * 32 random bytes (256 bits) in base64url behind a `keel_` prefix: far beyond guessing, and
 * the prefix lets secret scanners (and Keel's own guardrails) recognise a leaked one.
 */
export function newClientKey(): string {
  return `keel_${randomBytes(32).toString('base64url')}`;
}

export interface KeyEntry {
  id: string;
  key_sha256: string;
  team: string;
  customer?: string;
  routes?: string[];
  expires_at?: string;
}

export function keyEntry(key: string, o: { id: string; team: string; customer?: string | undefined; routes?: string[] | undefined; expires?: string | undefined }): KeyEntry {
  return {
    id: o.id,
    key_sha256: hashKey(key),
    team: o.team,
    ...(o.customer === undefined ? {} : { customer: o.customer }),
    ...(o.routes === undefined ? {} : { routes: o.routes }),
    ...(o.expires === undefined ? {} : { expires_at: o.expires }),
  };
}

/** `keel keys create`: a new key and its config entry. */
export function keys(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): number {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { team: { type: 'string' }, id: { type: 'string' }, customer: { type: 'string' }, routes: { type: 'string' }, expires: { type: 'string' } } });
  } catch (e) {
    err(`keel keys: ${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals[0] !== 'create' || values.team === undefined || values.team === '') {
    err(USAGE);
    return 2;
  }
  if (values.expires !== undefined && Number.isNaN(Date.parse(values.expires))) {
    err(`keel keys: --expires must be an ISO 8601 instant such as 2027-01-01T00:00:00Z, got "${values.expires}"\n`);
    return 2;
  }
  const key = newClientKey();
  const id = values.id ?? `${values.team}-${randomBytes(3).toString('hex')}`;
  const entry = keyEntry(key, { id, team: values.team, customer: values.customer, routes: values.routes?.split(',').map((r) => r.trim()).filter((r) => r !== ''), expires: values.expires });
  out(`Key (shown once; give it to the caller, store it in your secret manager):\n\n  ${key}\n\nAdd this entry under auth.keys in keel.yaml (it holds only the key's SHA-256):\n\n`);
  out(stringify([entry]).replace(/^/gm, '  '));
  return 0;
}
