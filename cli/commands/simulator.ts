import { startSimulator } from '../../simulator/index.js';
import type { CommonFlags } from '../args.js';
import { SIMULATED_MODELS } from '../default-config.js';

/** `keel simulator`: simulated OpenAI- and Anthropic-compatible providers on their own port. */
export async function simulator(flags: CommonFlags): Promise<number> {
  const sim = await startSimulator({ host: flags.host ?? '127.0.0.1', port: flags.port ?? 8090, behaviours: SIMULATED_MODELS });
  process.stderr.write(
    `keel: simulator listening on ${sim.url}\n` +
      `      OpenAI-compatible base URL: ${sim.url}/v1   Anthropic base URL: ${sim.url}\n` +
      `      models: ${Object.keys(SIMULATED_MODELS).join(', ')}, or any name with options, e.g. "m;fault=rate_limit;retry_after_s=1"\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  return 0;
}
