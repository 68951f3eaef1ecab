import type { SloBlock, SloSpec } from '../config/slo-schema.js';
import { sloSpecSchema } from '../config/slo-schema.js';

/**
 * The SLOs in force: the declared ones, or, with none declared and `defaults` on,
 * availability 99.5 % and TTFT ≤ 2 s for 95 % of streams per route, so a fresh
 * `keel start` shows budgets at once.
 */
export function effectiveSlos(block: SloBlock, routes: readonly string[]): SloSpec[] {
  if (block.objectives.length > 0 || !block.defaults) return block.objectives;
  return routes.flatMap((route) => [
    sloSpecSchema.parse({ name: `${route}-availability`, objective: 99.5, sli: 'availability', scope: { route } }),
    sloSpecSchema.parse({ name: `${route}-ttft`, objective: 95, sli: { latency: 'ttft', threshold_ms: 2000 }, scope: { route } }),
  ]);
}
