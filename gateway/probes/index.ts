/**
 * Active health checks (synthetic probes) of idle targets, README "Active health checks":
 * the scheduler (Prober), the probe request and its I/O, and the pure verdict rules.
 */
export { Prober, type ProberOptions, type Timers } from './prober.js';
export { sendProbe } from './send.js';
export { FAILURES, outcomeOf, PROBE_MESSAGE, probeChatBody, ProbeWindow, WINDOW, type ProbeOutcome } from './verdict.js';
export type { ProbeObserver, ProbeRecord } from './types.js';
