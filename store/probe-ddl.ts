/**
 * Active health checks (gateway/probes) arrive as `keel.probe` spans (gateway/telemetry/probes.ts)
 * and become rows here through a view on otel_traces, as audit events do. Their own table on
 * purpose: llm_requests and llm_attempts (and sli_1m over them) select spans of a request
 * (SERVER/CLIENT with keel.request_id), which a probe span is not, so a probe never becomes a
 * caller's request or spends an error budget. Rows are few (one per target and interval) and
 * kept like requests (`requests` TTL family). The dedup window makes a replayed batch
 * exactly-once here too.
 */
export const PROBE_RESULTS = `
CREATE TABLE IF NOT EXISTS probe_results (
    ts DateTime64(3) CODEC(Delta, ZSTD(1)),
    provider LowCardinality(String),
    provider_name LowCardinality(String),
    model LowCardinality(String),
    method LowCardinality(String),
    outcome LowCardinality(String),
    error_class LowCardinality(String),
    duration_ms Float64
) ENGINE = MergeTree()
PARTITION BY toDate(ts)
ORDER BY (provider, model, ts)
{ttl:requests:toDateTime(ts)}
SETTINGS non_replicated_deduplication_window = 10000`;

const attr = (key: string) => `SpanAttributes['${key}']`;

export const PROBE_RESULTS_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS probe_results_mv TO probe_results AS SELECT
    toDateTime64(Timestamp, 3) AS ts,
    ${attr('keel.provider')} AS provider,
    ${attr('gen_ai.provider.name')} AS provider_name,
    ${attr('gen_ai.request.model')} AS model,
    ${attr('keel.probe.method')} AS method,
    ${attr('keel.probe.outcome')} AS outcome,
    ${attr('keel.error.class')} AS error_class,
    Duration / 1e6 AS duration_ms
FROM otel_traces
WHERE SpanName = 'keel.probe' AND ${attr('keel.probe')} = 'true'`;
