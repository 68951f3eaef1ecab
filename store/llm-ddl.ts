/**
 * Typed tables filled by materialized views on `otel_traces` (DESIGN.md §3), so any
 * OTel pipeline that writes `otel_traces` feeds the SLO engine and dashboards.
 * Span attributes are strings in the exporter schema (standards.md §2.4); the
 * views cast them once here so readers never do.
 */

const attr = (key: string) => `SpanAttributes['${key}']`;
const num = (key: string) => `toFloat64OrZero(${attr(key)})`;
const int = (key: string) => `toUInt64OrZero(${attr(key)})`;
const flag = (key: string) => `${attr(key)} = 'true'`;

export const LLM_REQUESTS = `
CREATE TABLE IF NOT EXISTS llm_requests (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    request_id String CODEC(ZSTD(1)),
    operation LowCardinality(String),
    route LowCardinality(String),
    ingress LowCardinality(String),
    provider LowCardinality(String),
    provider_name LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    stream Bool,
    status UInt16,
    ok Bool,
    error_type LowCardinality(String),
    error_class LowCardinality(String),
    key_id LowCardinality(String),
    team LowCardinality(String),
    duration_ms Float64,
    ttft_ms Nullable(Float64),
    itl_mean_ms Float64,
    itl_p50_ms Float64,
    itl_p95_ms Float64,
    itl_max_ms Float64,
    itl_count UInt32,
    input_tokens UInt64,
    output_tokens UInt64,
    cache_read_tokens UInt64,
    cost_usd Float64,
    attempts UInt16,
    fallbacks UInt16,
    retries UInt16,
    fallback_used Bool,
    hedged Bool,
    continued Bool,
    stream_truncated Bool,
    cache_status LowCardinality(String),
    weights_version LowCardinality(String),
    finish_reasons Array(String)
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (route, toDateTime(Timestamp))
{ttl:requests:toDateTime(Timestamp)}
SETTINGS non_replicated_deduplication_window = 10000`;

export const LLM_REQUESTS_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS llm_requests_mv TO llm_requests AS SELECT
    Timestamp, TraceId, SpanId,
    ${attr('keel.request_id')} AS request_id,
    ${attr('gen_ai.operation.name')} AS operation,
    ${attr('keel.route')} AS route,
    ${attr('keel.ingress')} AS ingress,
    ${attr('keel.provider')} AS provider,
    ${attr('gen_ai.provider.name')} AS provider_name,
    ${attr('gen_ai.request.model')} AS request_model,
    ${attr('gen_ai.response.model')} AS response_model,
    ${flag('gen_ai.request.stream')} AS stream,
    toUInt16OrZero(${attr('http.response.status_code')}) AS status,
    StatusCode != 'Error' AS ok,
    ${attr('error.type')} AS error_type,
    ${attr('keel.error.class')} AS error_class,
    ${attr('keel.key_id')} AS key_id,
    ${attr('keel.team')} AS team,
    Duration / 1e6 AS duration_ms,
    toFloat64OrNull(${attr('gen_ai.response.time_to_first_chunk')}) * 1000 AS ttft_ms,
    ${num('keel.itl.mean_ms')} AS itl_mean_ms,
    ${num('keel.itl.p50_ms')} AS itl_p50_ms,
    ${num('keel.itl.p95_ms')} AS itl_p95_ms,
    ${num('keel.itl.max_ms')} AS itl_max_ms,
    toUInt32OrZero(${attr('keel.itl.count')}) AS itl_count,
    ${int('gen_ai.usage.input_tokens')} AS input_tokens,
    ${int('gen_ai.usage.output_tokens')} AS output_tokens,
    ${int('gen_ai.usage.cache_read.input_tokens')} AS cache_read_tokens,
    ${num('keel.cost_usd')} AS cost_usd,
    toUInt16OrZero(${attr('keel.attempts')}) AS attempts,
    toUInt16OrZero(${attr('keel.fallbacks')}) AS fallbacks,
    toUInt16OrZero(${attr('keel.retries')}) AS retries,
    ${flag('keel.fallback_used')} AS fallback_used,
    ${flag('keel.hedged')} AS hedged,
    ${flag('keel.continued')} AS continued,
    ${flag('keel.stream.truncated')} AS stream_truncated,
    ${attr('keel.cache.status')} AS cache_status,
    ${attr('keel.weights_version')} AS weights_version,
    JSONExtract(if(${attr('gen_ai.response.finish_reasons')} = '', '[]', ${attr('gen_ai.response.finish_reasons')}), 'Array(String)') AS finish_reasons
FROM otel_traces
WHERE SpanKind = 'Server' AND ${attr('keel.request_id')} != ''`;

export const LLM_ATTEMPTS = `
CREATE TABLE IF NOT EXISTS llm_attempts (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    request_id String CODEC(ZSTD(1)),
    route LowCardinality(String),
    attempt_index UInt16,
    attempt_reason LowCardinality(String),
    provider LowCardinality(String),
    provider_name LowCardinality(String),
    model LowCardinality(String),
    response_model LowCardinality(String),
    server_address LowCardinality(String),
    stream Bool,
    ok Bool,
    error_type LowCardinality(String),
    error_class LowCardinality(String),
    failure_class LowCardinality(String),
    duration_ms Float64,
    ttft_ms Nullable(Float64),
    input_tokens UInt64,
    output_tokens UInt64,
    cost_usd Float64
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (provider, model, toDateTime(Timestamp))
{ttl:requests:toDateTime(Timestamp)}
SETTINGS non_replicated_deduplication_window = 10000`;

export const LLM_ATTEMPTS_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS llm_attempts_mv TO llm_attempts AS SELECT
    Timestamp, TraceId, SpanId, ParentSpanId,
    ${attr('keel.request_id')} AS request_id,
    ${attr('keel.route')} AS route,
    toUInt16OrZero(${attr('keel.attempt.index')}) AS attempt_index,
    ${attr('keel.attempt.reason')} AS attempt_reason,
    ${attr('keel.provider')} AS provider,
    ${attr('gen_ai.provider.name')} AS provider_name,
    ${attr('gen_ai.request.model')} AS model,
    ${attr('gen_ai.response.model')} AS response_model,
    ${attr('server.address')} AS server_address,
    ${flag('gen_ai.request.stream')} AS stream,
    StatusCode != 'Error' AS ok,
    ${attr('error.type')} AS error_type,
    ${attr('keel.error.class')} AS error_class,
    ${attr('keel.failure_class')} AS failure_class,
    Duration / 1e6 AS duration_ms,
    toFloat64OrNull(${attr('gen_ai.response.time_to_first_chunk')}) * 1000 AS ttft_ms,
    ${int('gen_ai.usage.input_tokens')} AS input_tokens,
    ${int('gen_ai.usage.output_tokens')} AS output_tokens,
    ${num('keel.cost_usd')} AS cost_usd
FROM otel_traces
WHERE SpanKind = 'Client' AND ${attr('keel.request_id')} != ''`;

const SKETCH = 'AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64))';

/**
 * Per minute × route × provider × model × key/team: what SLOs and dashboards read for
 * long windows (30 days of minutes, never raw spans). Bad events count provider- and
 * gateway-attributable failures only: a caller's own 4xx spends no error budget.
 */
export const SLI_1M = `
CREATE TABLE IF NOT EXISTS sli_1m (
    minute DateTime,
    route LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    key_id LowCardinality(String),
    team LowCardinality(String),
    requests SimpleAggregateFunction(sum, UInt64),
    bad SimpleAggregateFunction(sum, UInt64),
    failures SimpleAggregateFunction(sumMap, Map(String, UInt64)),
    streams SimpleAggregateFunction(sum, UInt64),
    fallbacks SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    ttft_ms ${SKETCH},
    duration_ms ${SKETCH},
    itl_ms ${SKETCH}
) ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (route, provider, model, key_id, team, minute)
{ttl:sli:minute}`;

export const SLI_1M_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS sli_1m_mv TO sli_1m AS SELECT
    toStartOfMinute(Timestamp) AS minute,
    route, provider, response_model AS model, key_id, team,
    count() AS requests,
    countIf(NOT ok AND NOT startsWith(error_class, 'caller_')) AS bad,
    sumMap(map(if(ok, 'ok', error_class), toUInt64(1))) AS failures,
    countIf(stream) AS streams,
    countIf(fallback_used) AS fallbacks,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost_usd) AS cost_usd,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(ttft_ms) AS ttft_ms,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(toNullable(duration_ms)) AS duration_ms,
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(if(itl_count > 0, toNullable(itl_mean_ms), NULL)) AS itl_ms
FROM llm_requests
GROUP BY minute, route, provider, model, key_id, team`;
