import type { GuardrailConfig } from '../../config/governance-schema.js';
import { builtinDetector, patternDetector } from './detectors.js';
import type { CompiledRule, Direction } from './types.js';

/** The named rules of one config snapshot, their regexes built once. */
export interface CompiledGuardrails {
  readonly rules: ReadonlyMap<string, CompiledRule>;
  /**
   * The rules one request passes in one direction, in the order named (the route's, then the
   * key's), each once; names the config does not declare are skipped (the schema refuses them).
   */
  select(names: readonly string[], direction: Direction): CompiledRule[];
}

export function compileRule(name: string, cfg: GuardrailConfig): CompiledRule {
  return {
    name,
    action: cfg.action,
    directions: cfg.direction === 'both' ? ['in', 'out'] : [cfg.direction],
    detectors: [...new Set(cfg.detect)].map(builtinDetector).concat(cfg.patterns.map((p) => patternDetector(p, cfg.flags))),
  };
}

export function compileGuardrails(rules: Readonly<Record<string, GuardrailConfig>>): CompiledGuardrails {
  const compiled = new Map(Object.entries(rules).map(([name, cfg]) => [name, compileRule(name, cfg)] as const));
  return {
    rules: compiled,
    select(names, direction) {
      const out: CompiledRule[] = [];
      for (const name of new Set(names)) {
        const rule = compiled.get(name);
        if (rule !== undefined && rule.directions.includes(direction)) out.push(rule);
      }
      return out;
    },
  };
}
