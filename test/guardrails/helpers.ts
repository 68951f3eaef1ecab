import type { GuardrailConfig } from '../../config/governance-schema.js';
import { compileGuardrails, type CompiledRule } from '../../gateway/guardrails/index.js';

/** Rules as the config would give them (schema defaults filled in). */
export function rules(defs: Record<string, Partial<GuardrailConfig> & Pick<GuardrailConfig, 'action'>>, direction: 'in' | 'out' = 'in'): CompiledRule[] {
  const full: Record<string, GuardrailConfig> = {};
  for (const [name, d] of Object.entries(defs)) full[name] = { detect: [], patterns: [], flags: '', direction: 'both', ...d };
  return compileGuardrails(full).select(Object.keys(full), direction);
}

export const ALL = ['secrets', 'email', 'phone', 'payment_card', 'iban'] as const;

/** Fixtures that must be found (built from parts so no scanner in the repo's own CI flags this file). */
export const SECRETS: Record<string, string> = {
  openai: 'sk-proj-' + 'AbCdEf0123456789xyzT3BlbkFJ',
  anthropic: 'sk-ant-api03-' + 'AAAABBBBCCCCDDDDEEEEFFFF-_gg',
  aws: 'AKIA' + 'IOSFODNN7EXAMPLE',
  awsTemp: 'ASIA' + 'Y34FZKBOKMUTVV7A',
  github: 'ghp_' + 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
  githubPat: 'github_pat_' + '11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz',
  slack: 'xoxb-' + '123456789012-abcdefABCDEF',
  google: 'AIza' + 'SyA1234567890abcdefghijklmnopqrstuv',
  stripe: 'sk_live_' + '4eC39HqLyjWDarjtT1zdp7dc',
  jwt: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9' + '.eyJzdWIiOiIxMjM0NTY3ODkwIn0' + '.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
};

export const PEM = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB', 'aFDrBz9vFqU4yQ0PBZxcUAK5gdf3mSdK8QqQKzIYJfS0QU0h1Ic4dBQP5lF+Zd5R', '-----END RSA PRIVATE KEY-----'].join('\n');
