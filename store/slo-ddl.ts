/**
 * Latency SLIs count good events ("TTFT ≤ 1500 ms"), which a quantile sketch cannot
 * answer exactly; so sli_1m also keeps per-bucket counts on a fixed ladder (ms). A
 * threshold is rounded down to the ladder, which errs on the strict side.
 */
export const LATENCY_LADDER_MS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 60000, 120000, 4294967295];

const ladder = `[${LATENCY_LADDER_MS.join(', ')}]`;
const bucketOf = (expr: string) => `map(toUInt32(arrayFirst(b -> b >= ${expr}, ${ladder})), toUInt64(1))`;

export const SLI_1M_LATENCY_COLUMNS = `
ALTER TABLE sli_1m
    ADD COLUMN IF NOT EXISTS ttft_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS duration_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    ADD COLUMN IF NOT EXISTS itl_le SimpleAggregateFunction(sumMap, Map(UInt32, UInt64))`;

export const DROP_SLI_1M_MV = 'DROP VIEW IF EXISTS sli_1m_mv';

/**
 * The rollup view, now with the latency buckets (replaces migration 4's). Columns are
 * qualified where a SELECT alias (the sketches) would otherwise shadow them.
 */
export const SLI_1M_MV_V2 = `
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
    quantilesTDigestState(0.5, 0.9, 0.95, 0.99)(if(itl_count > 0, toNullable(itl_mean_ms), NULL)) AS itl_ms,
    sumMap(if(llm_requests.ttft_ms IS NULL OR NOT ok, map(), ${bucketOf('assumeNotNull(llm_requests.ttft_ms)')})) AS ttft_le,
    sumMap(if(NOT ok, map(), ${bucketOf('llm_requests.duration_ms')})) AS duration_le,
    sumMap(if(itl_count = 0 OR NOT ok, map(), ${bucketOf('itl_mean_ms')})) AS itl_le
FROM llm_requests
GROUP BY minute, route, provider, model, key_id, team`;

/** One row per SLO per evaluation: what the status page, `keel slo status` and dashboards read. */
export const SLO_EVALUATIONS = `
CREATE TABLE IF NOT EXISTS slo_evaluations (
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
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (slo, ts)
{ttl:sli:toDateTime(ts)}`;

/** Every alert transition, for the status page, audits and dashboards. */
export const ALERT_EVENTS = `
CREATE TABLE IF NOT EXISTS alert_events (
    ts DateTime64(3),
    slo LowCardinality(String),
    kind LowCardinality(String),
    transition LowCardinality(String),
    summary String,
    budget_remaining Float64
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (slo, ts)
{ttl:sli:toDateTime(ts)}`;

/** Published routing weight multipliers: one row per target per version, with the reason. */
export const ROUTING_WEIGHTS = `
CREATE TABLE IF NOT EXISTS routing_weights (
    ts DateTime64(3),
    version String,
    route LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    multiplier Float64,
    reason String
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (route, provider, model, ts)
{ttl:sli:toDateTime(ts)}`;

/**
 * sli_1m is two views deep (otel_traces → llm_requests → sli_1m). A replayed batch's token
 * is honoured by a view's target only when that table keeps a dedup window: without one,
 * a replay left otel_traces and llm_requests unchanged and doubled sli_1m.
 */
export const SLI_1M_DEDUP = 'ALTER TABLE sli_1m MODIFY SETTING non_replicated_deduplication_window = 10000';

/**
 * Each canary's rollout state, one row per change (the latest wins): the SLO engine resumes
 * from it after a restart, so a rolled-back canary stays at 0 % and a completed one at 100 %
 * until its config (`spec`, the rollout's signature) changes.
 */
export const CANARY_STATE = `
CREATE TABLE IF NOT EXISTS canary_state (
    ts DateTime64(3),
    key String,
    spec String,
    step UInt16,
    share Float64,
    status LowCardinality(String),
    since DateTime64(3),
    reason String
) ENGINE = ReplacingMergeTree(ts)
ORDER BY key`;
