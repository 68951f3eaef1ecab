/**
 * Simulated OpenAI-compatible (Chat Completions, Responses) and Anthropic-compatible providers with fault injection:
 * the demo's providers, the tests' upstream, the benchmarks' fast upstream.
 * Behaviour is set per model name (see behaviour.ts for every fault).
 */
export { startSimulator, type Simulator, type SimulatorOptions } from './server.js';
export type { AttemptRecord } from './exchange.js';
export { behaviourSpec, FAULTS, type BehaviourSpec, type Fault } from './behaviour.js';
