import { LLM_ATTEMPTS, LLM_ATTEMPTS_MV, LLM_REQUESTS, LLM_REQUESTS_MV, SLI_1M, SLI_1M_MV } from './llm-ddl.js';
import { ALERT_EVENTS, ROUTING_WEIGHTS, DROP_SLI_1M_MV, CANARY_STATE, SLI_1M_DEDUP, SLI_1M_LATENCY_COLUMNS, SLI_1M_MV_V2, SLO_EVALUATIONS } from './slo-ddl.js';
import { AUDIT_LOG, AUDIT_LOG_MV } from './audit-ddl.js';
import { PROBE_RESULTS, PROBE_RESULTS_MV } from './probe-ddl.js';
import { DROP_LLM_REQUESTS_MV, DROP_SLI_1M_MV_V2, LLM_REQUESTS_CUSTOMER, LLM_REQUESTS_MV_V2, SLI_1M_CUSTOMER, SLI_1M_MV_V3 } from './customer-ddl.js';
import { OTEL_METRICS, OTEL_TRACES, OTEL_TRACES_TRACE_ID_TS, OTEL_TRACES_TRACE_ID_TS_MV, RENAME_EXP_HISTOGRAM } from './otel-ddl.js';

export interface Migration {
  version: number;
  name: string;
  /** Each statement is idempotent (IF NOT EXISTS), so a migration cut short can run again. */
  statements: string[];
}

/** Numbered, append-only: a shipped migration never changes; a change is a new one. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'otel traces (clickhouseexporter schema)', statements: [OTEL_TRACES, OTEL_TRACES_TRACE_ID_TS, OTEL_TRACES_TRACE_ID_TS_MV] },
  { version: 2, name: 'otel metrics (clickhouseexporter schema)', statements: OTEL_METRICS },
  { version: 3, name: 'llm_requests and llm_attempts views', statements: [LLM_REQUESTS, LLM_ATTEMPTS, LLM_REQUESTS_MV, LLM_ATTEMPTS_MV] },
  { version: 4, name: 'sli_1m rollup', statements: [SLI_1M, SLI_1M_MV] },
  { version: 5, name: 'latency buckets in sli_1m, slo_evaluations', statements: [SLI_1M_LATENCY_COLUMNS, DROP_SLI_1M_MV, SLI_1M_MV_V2, SLO_EVALUATIONS] },
  { version: 6, name: 'alert_events', statements: [ALERT_EVENTS] },
  { version: 7, name: 'routing_weights', statements: [ROUTING_WEIGHTS] },
  { version: 8, name: 'sli_1m dedup window; otel_metrics_exponential_histogram (the exporter name)', statements: [SLI_1M_DEDUP, RENAME_EXP_HISTOGRAM] },
  { version: 9, name: 'canary_state', statements: [CANARY_STATE] },
  // The views are dropped and made again (as migration 5 did), so rows written after it carry the customer.
  { version: 10, name: 'customer in llm_requests and sli_1m', statements: [LLM_REQUESTS_CUSTOMER, SLI_1M_CUSTOMER, DROP_LLM_REQUESTS_MV, LLM_REQUESTS_MV_V2, DROP_SLI_1M_MV_V2, SLI_1M_MV_V3] },
  { version: 11, name: 'audit_log and its view on otel_traces (keel.audit spans)', statements: [AUDIT_LOG, AUDIT_LOG_MV] },
  { version: 12, name: 'probe_results and its view on otel_traces (keel.probe spans: active health checks)', statements: [PROBE_RESULTS, PROBE_RESULTS_MV] },
];
