import type { ErrorClass } from '../errors.js';
import type { ProbeOutcome } from './verdict.js';

/** One probe, for telemetry (a `keel.probe` span, keel.probe.* metrics): never a request record, never an SLI. */
export interface ProbeRecord {
  provider: string;
  /** gen_ai.provider.name of the provider. */
  providerName: string;
  model: string;
  address: string;
  port: number;
  method: 'chat' | 'models';
  outcome: ProbeOutcome;
  errorClass: ErrorClass | undefined;
  errorCode: string | undefined;
  /** ms epoch at the start, and how long it took. */
  startedAtMs: number;
  durationMs: number;
}

export type ProbeObserver = (r: ProbeRecord) => void;
