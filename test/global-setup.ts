import { ensureBuilt } from '../bin/ensure-built.js';

/**
 * Builds dist/ once before any test file runs: several CLI test files start `bin/keel.js`
 * in parallel, and each would otherwise race to run tsc into the same folder.
 */
export default async function setup(): Promise<void> {
  await ensureBuilt();
}
