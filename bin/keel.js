#!/usr/bin/env node
// Launcher: runs the compiled CLI, building it first when dist/ is missing or older than the sources.
import { ensureBuilt } from './ensure-built.js';

await ensureBuilt();
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
