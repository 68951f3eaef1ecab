-- ledger
CREATE TABLE IF NOT EXISTS keel_migrations ON CLUSTER `keel` (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/keel_meta', '{shard}-{replica}') ORDER BY version;

-- migration lock: taken, then released, around each run that has migrations to apply
CREATE TABLE keel_migration_lock ON CLUSTER `keel` (holder String, since DateTime DEFAULT now()) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/keel_meta', '{shard}-{replica}') ORDER BY tuple();

DROP TABLE IF EXISTS keel_migration_lock ON CLUSTER `keel` SYNC;

-- migration 1: otel traces (clickhouseexporter schema)
CREATE TABLE IF NOT EXISTS otel_traces ON CLUSTER `keel` (
    Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_traces_all ON CLUSTER `keel` AS otel_traces ENGINE = Distributed('keel', 'keel', 'otel_traces');

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts ON CLUSTER `keel` (
    TraceId String CODEC(ZSTD(1)),
    Start DateTime CODEC(Delta, ZSTD(1)),
    End DateTime CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL toDateTime(Start) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts_all ON CLUSTER `keel` AS otel_traces_trace_id_ts ENGINE = Distributed('keel', 'keel', 'otel_traces_trace_id_ts');

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv ON CLUSTER `keel` TO otel_traces_trace_id_ts
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId;

-- migration 2: otel metrics (clickhouseexporter schema)
CREATE TABLE IF NOT EXISTS otel_metrics_gauge ON CLUSTER `keel` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_metrics_gauge_all ON CLUSTER `keel` AS otel_metrics_gauge ENGINE = Distributed('keel', 'keel', 'otel_metrics_gauge');

CREATE TABLE IF NOT EXISTS otel_metrics_sum ON CLUSTER `keel` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_metrics_sum_all ON CLUSTER `keel` AS otel_metrics_sum ENGINE = Distributed('keel', 'keel', 'otel_metrics_sum');

CREATE TABLE IF NOT EXISTS otel_metrics_histogram ON CLUSTER `keel` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_metrics_histogram_all ON CLUSTER `keel` AS otel_metrics_histogram ENGINE = Distributed('keel', 'keel', 'otel_metrics_histogram');

CREATE TABLE IF NOT EXISTS otel_metrics_exp_histogram ON CLUSTER `keel` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    Scale Int32 CODEC(ZSTD(1)),
    ZeroCount UInt64 CODEC(ZSTD(1)),
    PositiveOffset Int32 CODEC(ZSTD(1)),
    PositiveBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    NegativeOffset Int32 CODEC(ZSTD(1)),
    NegativeBucketCounts Array(UInt64) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix DateTime64(9),
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_metrics_exp_histogram_all ON CLUSTER `keel` AS otel_metrics_exp_histogram ENGINE = Distributed('keel', 'keel', 'otel_metrics_exp_histogram');

CREATE TABLE IF NOT EXISTS otel_metrics_summary ON CLUSTER `keel` (
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    ValueAtQuantiles Nested(
        Quantile Float64,
        Value Float64
    ) CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay(7)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS otel_metrics_summary_all ON CLUSTER `keel` AS otel_metrics_summary ENGINE = Distributed('keel', 'keel', 'otel_metrics_summary');

-- migration 3: llm_requests and llm_attempts views
CREATE TABLE IF NOT EXISTS llm_requests ON CLUSTER `keel` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(Timestamp)
ORDER BY (route, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + toIntervalDay(30)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS llm_requests_all ON CLUSTER `keel` AS llm_requests ENGINE = Distributed('keel', 'keel', 'llm_requests');

CREATE TABLE IF NOT EXISTS llm_attempts ON CLUSTER `keel` (
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
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(Timestamp)
ORDER BY (provider, model, toDateTime(Timestamp))
TTL toDateTime(Timestamp) + toIntervalDay(30)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS llm_attempts_all ON CLUSTER `keel` AS llm_attempts ENGINE = Distributed('keel', 'keel', 'llm_attempts');

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_requests_mv ON CLUSTER `keel` TO llm_requests AS SELECT
    Timestamp, TraceId, SpanId,
    SpanAttributes['keel.request_id'] AS request_id,
    SpanAttributes['gen_ai.operation.name'] AS operation,
    SpanAttributes['keel.route'] AS route,
    SpanAttributes['keel.ingress'] AS ingress,
    SpanAttributes['keel.provider'] AS provider,
    SpanAttributes['gen_ai.provider.name'] AS provider_name,
    SpanAttributes['gen_ai.request.model'] AS request_model,
    SpanAttributes['gen_ai.response.model'] AS response_model,
    SpanAttributes['gen_ai.request.stream'] = 'true' AS stream,
    toUInt16OrZero(SpanAttributes['http.response.status_code']) AS status,
    StatusCode != 'Error' AS ok,
    SpanAttributes['error.type'] AS error_type,
    SpanAttributes['keel.error.class'] AS error_class,
    SpanAttributes['keel.key_id'] AS key_id,
    SpanAttributes['keel.team'] AS team,
    Duration / 1e6 AS duration_ms,
    toFloat64OrNull(SpanAttributes['gen_ai.response.time_to_first_chunk']) * 1000 AS ttft_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.mean_ms']) AS itl_mean_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.p50_ms']) AS itl_p50_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.p95_ms']) AS itl_p95_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.max_ms']) AS itl_max_ms,
    toUInt32OrZero(SpanAttributes['keel.itl.count']) AS itl_count,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']) AS input_tokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']) AS output_tokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.cache_read.input_tokens']) AS cache_read_tokens,
    toFloat64OrZero(SpanAttributes['keel.cost_usd']) AS cost_usd,
    toUInt16OrZero(SpanAttributes['keel.attempts']) AS attempts,
    toUInt16OrZero(SpanAttributes['keel.fallbacks']) AS fallbacks,
    toUInt16OrZero(SpanAttributes['keel.retries']) AS retries,
    SpanAttributes['keel.fallback_used'] = 'true' AS fallback_used,
    SpanAttributes['keel.hedged'] = 'true' AS hedged,
    SpanAttributes['keel.continued'] = 'true' AS continued,
    SpanAttributes['keel.stream.truncated'] = 'true' AS stream_truncated,
    SpanAttributes['keel.cache.status'] AS cache_status,
    SpanAttributes['keel.weights_version'] AS weights_version,
    JSONExtract(if(SpanAttributes['gen_ai.response.finish_reasons'] = '', '[]', SpanAttributes['gen_ai.response.finish_reasons']), 'Array(String)') AS finish_reasons
FROM otel_traces
WHERE SpanKind = 'Server' AND SpanAttributes['keel.request_id'] != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_attempts_mv ON CLUSTER `keel` TO llm_attempts AS SELECT
    Timestamp, TraceId, SpanId, ParentSpanId,
    SpanAttributes['keel.request_id'] AS request_id,
    SpanAttributes['keel.route'] AS route,
    toUInt16OrZero(SpanAttributes['keel.attempt.index']) AS attempt_index,
    SpanAttributes['keel.attempt.reason'] AS attempt_reason,
    SpanAttributes['keel.provider'] AS provider,
    SpanAttributes['gen_ai.provider.name'] AS provider_name,
    SpanAttributes['gen_ai.request.model'] AS model,
    SpanAttributes['gen_ai.response.model'] AS response_model,
    SpanAttributes['server.address'] AS server_address,
    SpanAttributes['gen_ai.request.stream'] = 'true' AS stream,
    StatusCode != 'Error' AS ok,
    SpanAttributes['error.type'] AS error_type,
    SpanAttributes['keel.error.class'] AS error_class,
    SpanAttributes['keel.failure_class'] AS failure_class,
    Duration / 1e6 AS duration_ms,
    toFloat64OrNull(SpanAttributes['gen_ai.response.time_to_first_chunk']) * 1000 AS ttft_ms,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']) AS input_tokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']) AS output_tokens,
    toFloat64OrZero(SpanAttributes['keel.cost_usd']) AS cost_usd
FROM otel_traces
WHERE SpanKind = 'Client' AND SpanAttributes['keel.request_id'] != '';

-- migration 4: sli_1m rollup
CREATE TABLE IF NOT EXISTS sli_1m ON CLUSTER `keel` (
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
    ttft_ms AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64)),
    duration_ms AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64)),
    itl_ms AggregateFunction(quantilesTDigest(0.5, 0.9, 0.95, 0.99), Nullable(Float64))
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toYYYYMM(minute)
ORDER BY (route, provider, model, key_id, team, minute)
TTL minute + toIntervalDay(400);

CREATE TABLE IF NOT EXISTS sli_1m_all ON CLUSTER `keel` AS sli_1m ENGINE = Distributed('keel', 'keel', 'sli_1m');

CREATE MATERIALIZED VIEW IF NOT EXISTS sli_1m_mv ON CLUSTER `keel` TO sli_1m AS SELECT
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
GROUP BY minute, route, provider, model, key_id, team;

-- migration 5: latency buckets in sli_1m, slo_evaluations
ALTER TABLE sli_1m ON CLUSTER `keel`
    ADD COLUMN IF NOT EXISTS ttft_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS duration_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS itl_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64));

ALTER TABLE sli_1m_all ON CLUSTER `keel`
    ADD COLUMN IF NOT EXISTS ttft_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS duration_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS itl_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64));

DROP VIEW IF EXISTS sli_1m_mv ON CLUSTER `keel`;

CREATE MATERIALIZED VIEW IF NOT EXISTS sli_1m_mv ON CLUSTER `keel` TO sli_1m AS SELECT
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(if(itl_count > 0, toNullable(itl_mean_ms), NULL)) AS itl_ms,
    sumMap(if(llm_requests.ttft_ms IS NULL OR NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= assumeNotNull(llm_requests.ttft_ms), [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS ttft_le,
    sumMap(if(NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= llm_requests.duration_ms, [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS duration_le,
    sumMap(if(itl_count = 0 OR NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= itl_mean_ms, [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS itl_le
FROM llm_requests
GROUP BY minute, route, provider, model, key_id, team;

CREATE TABLE IF NOT EXISTS slo_evaluations ON CLUSTER `keel` (
    ts DateTime64(3),
    slo LowCardinality(String),
    objective Float64,
    window_s UInt32,
    events UInt64,
    bad UInt64,
    sli Float64,
    budget_remaining Float64,
    burn_rates Map(String, Float64),
    firing Array(String)
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (slo, ts)
TTL toDateTime(ts) + toIntervalDay(400);

CREATE TABLE IF NOT EXISTS slo_evaluations_all ON CLUSTER `keel` AS slo_evaluations ENGINE = Distributed('keel', 'keel', 'slo_evaluations');

-- migration 6: alert_events
CREATE TABLE IF NOT EXISTS alert_events ON CLUSTER `keel` (
    ts DateTime64(3),
    slo LowCardinality(String),
    kind LowCardinality(String),
    transition LowCardinality(String),
    summary String,
    budget_remaining Float64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (slo, ts)
TTL toDateTime(ts) + toIntervalDay(400);

CREATE TABLE IF NOT EXISTS alert_events_all ON CLUSTER `keel` AS alert_events ENGINE = Distributed('keel', 'keel', 'alert_events');

-- migration 7: routing_weights
CREATE TABLE IF NOT EXISTS routing_weights ON CLUSTER `keel` (
    ts DateTime64(3),
    version String,
    route LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    multiplier Float64,
    reason String
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (route, provider, model, ts)
TTL toDateTime(ts) + toIntervalDay(400);

CREATE TABLE IF NOT EXISTS routing_weights_all ON CLUSTER `keel` AS routing_weights ENGINE = Distributed('keel', 'keel', 'routing_weights');

-- migration 8: sli_1m dedup window; otel_metrics_exponential_histogram (the exporter name)
ALTER TABLE sli_1m ON CLUSTER `keel` MODIFY SETTING replicated_deduplication_window = 10000;

DROP TABLE IF EXISTS otel_metrics_exp_histogram_all ON CLUSTER `keel` SYNC;

RENAME TABLE IF EXISTS otel_metrics_exp_histogram TO otel_metrics_exponential_histogram ON CLUSTER `keel`;

CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram_all ON CLUSTER `keel` AS otel_metrics_exponential_histogram ENGINE = Distributed('keel', 'keel', 'otel_metrics_exponential_histogram');

-- migration 9: canary_state
CREATE TABLE IF NOT EXISTS canary_state ON CLUSTER `keel` (
    ts DateTime64(3),
    key String,
    spec String,
    step UInt16,
    share Float64,
    status LowCardinality(String),
    since DateTime64(3),
    reason String
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', ts)
ORDER BY key;

CREATE TABLE IF NOT EXISTS canary_state_all ON CLUSTER `keel` AS canary_state ENGINE = Distributed('keel', 'keel', 'canary_state');

-- migration 10: customer in llm_requests and sli_1m
ALTER TABLE llm_requests ON CLUSTER `keel` ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team;

ALTER TABLE llm_requests_all ON CLUSTER `keel` ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team;

ALTER TABLE sli_1m ON CLUSTER `keel`
    ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team,
    MODIFY ORDER BY (route, provider, model, key_id, team, minute, customer);

ALTER TABLE sli_1m_all ON CLUSTER `keel` ADD COLUMN IF NOT EXISTS customer LowCardinality(String) AFTER team;

DROP VIEW IF EXISTS llm_requests_mv ON CLUSTER `keel`;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_requests_mv ON CLUSTER `keel` TO llm_requests AS SELECT
    Timestamp, TraceId, SpanId,
    SpanAttributes['keel.request_id'] AS request_id,
    SpanAttributes['gen_ai.operation.name'] AS operation,
    SpanAttributes['keel.route'] AS route,
    SpanAttributes['keel.ingress'] AS ingress,
    SpanAttributes['keel.provider'] AS provider,
    SpanAttributes['gen_ai.provider.name'] AS provider_name,
    SpanAttributes['gen_ai.request.model'] AS request_model,
    SpanAttributes['gen_ai.response.model'] AS response_model,
    SpanAttributes['gen_ai.request.stream'] = 'true' AS stream,
    toUInt16OrZero(SpanAttributes['http.response.status_code']) AS status,
    StatusCode != 'Error' AS ok,
    SpanAttributes['error.type'] AS error_type,
    SpanAttributes['keel.error.class'] AS error_class,
    SpanAttributes['keel.key_id'] AS key_id,
    SpanAttributes['keel.team'] AS team,
    SpanAttributes['keel.customer'] AS customer,
    Duration / 1e6 AS duration_ms,
    toFloat64OrNull(SpanAttributes['gen_ai.response.time_to_first_chunk']) * 1000 AS ttft_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.mean_ms']) AS itl_mean_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.p50_ms']) AS itl_p50_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.p95_ms']) AS itl_p95_ms,
    toFloat64OrZero(SpanAttributes['keel.itl.max_ms']) AS itl_max_ms,
    toUInt32OrZero(SpanAttributes['keel.itl.count']) AS itl_count,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.input_tokens']) AS input_tokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.output_tokens']) AS output_tokens,
    toUInt64OrZero(SpanAttributes['gen_ai.usage.cache_read.input_tokens']) AS cache_read_tokens,
    toFloat64OrZero(SpanAttributes['keel.cost_usd']) AS cost_usd,
    toUInt16OrZero(SpanAttributes['keel.attempts']) AS attempts,
    toUInt16OrZero(SpanAttributes['keel.fallbacks']) AS fallbacks,
    toUInt16OrZero(SpanAttributes['keel.retries']) AS retries,
    SpanAttributes['keel.fallback_used'] = 'true' AS fallback_used,
    SpanAttributes['keel.hedged'] = 'true' AS hedged,
    SpanAttributes['keel.continued'] = 'true' AS continued,
    SpanAttributes['keel.stream.truncated'] = 'true' AS stream_truncated,
    SpanAttributes['keel.cache.status'] AS cache_status,
    SpanAttributes['keel.weights_version'] AS weights_version,
    JSONExtract(if(SpanAttributes['gen_ai.response.finish_reasons'] = '', '[]', SpanAttributes['gen_ai.response.finish_reasons']), 'Array(String)') AS finish_reasons
FROM otel_traces
WHERE SpanKind = 'Server' AND SpanAttributes['keel.request_id'] != '';

DROP VIEW IF EXISTS sli_1m_mv ON CLUSTER `keel`;

CREATE MATERIALIZED VIEW IF NOT EXISTS sli_1m_mv ON CLUSTER `keel` TO sli_1m AS SELECT
    toStartOfMinute(Timestamp) AS minute,
    route, provider, response_model AS model, key_id, team, customer,
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(if(itl_count > 0, toNullable(itl_mean_ms), NULL)) AS itl_ms,
    sumMap(if(llm_requests.ttft_ms IS NULL OR NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= assumeNotNull(llm_requests.ttft_ms), [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS ttft_le,
    sumMap(if(NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= llm_requests.duration_ms, [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS duration_le,
    sumMap(if(itl_count = 0 OR NOT ok, map(), map(toUInt32(arrayFirst(b -> b >= itl_mean_ms, [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295])), toUInt64(1)))) AS itl_le
FROM llm_requests
GROUP BY minute, route, provider, model, key_id, team, customer;

-- migration 11: audit_log and its view on otel_traces (keel.audit spans)
CREATE TABLE IF NOT EXISTS audit_log ON CLUSTER `keel` (
    ts DateTime64(3) CODEC(Delta, ZSTD(1)),
    source LowCardinality(String),
    instance LowCardinality(String),
    event LowCardinality(String),
    subject String CODEC(ZSTD(1)),
    detail String CODEC(ZSTD(1)),
    config_version UInt32,
    config_hash LowCardinality(String),
    actor LowCardinality(String)
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, event)
TTL toDateTime(ts) + toIntervalDay(400)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS audit_log_all ON CLUSTER `keel` AS audit_log ENGINE = Distributed('keel', 'keel', 'audit_log');

CREATE MATERIALIZED VIEW IF NOT EXISTS audit_log_mv ON CLUSTER `keel` TO audit_log AS SELECT
    toDateTime64(Timestamp, 3) AS ts,
    'gateway' AS source,
    SpanAttributes['keel.audit.instance'] AS instance,
    SpanAttributes['keel.audit.event'] AS event,
    SpanAttributes['keel.audit.subject'] AS subject,
    SpanAttributes['keel.audit.detail'] AS detail,
    toUInt32OrZero(SpanAttributes['keel.audit.config_version']) AS config_version,
    SpanAttributes['keel.audit.config_hash'] AS config_hash,
    SpanAttributes['keel.audit.actor'] AS actor
FROM otel_traces
WHERE SpanName = 'keel.audit' AND SpanAttributes['keel.audit.event'] != '';

-- migration 12: probe_results and its view on otel_traces (keel.probe spans: active health checks)
CREATE TABLE IF NOT EXISTS probe_results ON CLUSTER `keel` (
    ts DateTime64(3) CODEC(Delta, ZSTD(1)),
    provider LowCardinality(String),
    provider_name LowCardinality(String),
    model LowCardinality(String),
    method LowCardinality(String),
    outcome LowCardinality(String),
    error_class LowCardinality(String),
    duration_ms Float64
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}')
PARTITION BY toDate(ts)
ORDER BY (provider, model, ts)
TTL toDateTime(ts) + toIntervalDay(30)
SETTINGS replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS probe_results_all ON CLUSTER `keel` AS probe_results ENGINE = Distributed('keel', 'keel', 'probe_results');

CREATE MATERIALIZED VIEW IF NOT EXISTS probe_results_mv ON CLUSTER `keel` TO probe_results AS SELECT
    toDateTime64(Timestamp, 3) AS ts,
    SpanAttributes['keel.provider'] AS provider,
    SpanAttributes['gen_ai.provider.name'] AS provider_name,
    SpanAttributes['gen_ai.request.model'] AS model,
    SpanAttributes['keel.probe.method'] AS method,
    SpanAttributes['keel.probe.outcome'] AS outcome,
    SpanAttributes['keel.error.class'] AS error_class,
    Duration / 1e6 AS duration_ms
FROM otel_traces
WHERE SpanName = 'keel.probe' AND SpanAttributes['keel.probe'] = 'true';
