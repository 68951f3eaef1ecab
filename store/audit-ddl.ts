import { AUDIT_ATTR, AUDIT_SPAN } from '../config/audit.js';

/**
 * How long audit rows are kept: 400 days, a full year and a month. An audit answers questions
 * like "who had access in the last review period", asked once a year (SOC 2 type II, ISO 27001
 * surveillance audits) and after the fact, so it must outlive the telemetry it sits beside
 * (traces 7 days, requests 30 by default). Fixed here rather than a `ttl_days` family on
 * purpose: shortening the request tables to save disk must not shorten the audit trail with
 * them. The rows are tiny (config changes and alerts, not requests): 400 days costs little.
 * A different retention is an explicit `ALTER TABLE audit_log MODIFY TTL …`.
 */
export const AUDIT_TTL_DAYS = 400;

/**
 * The append-only audit log (issue 15 §5). MergeTree, not a Replacing engine: a row is never
 * updated or collapsed; ORDER BY (ts, event) because an audit is read as "what happened in this
 * time range", then by kind. The dedup window is what makes it exactly-once like llm_requests:
 * a replayed otel_traces batch carries its original insert token into this view's target, and
 * so does a replayed collector batch of the collector's own rows (collector/batcher.ts).
 * `detail` is JSON text of non-secret facts; `subject` a key id, never a key.
 */
export const AUDIT_LOG = `
CREATE TABLE IF NOT EXISTS audit_log (
    ts DateTime64(3) CODEC(Delta, ZSTD(1)),
    source LowCardinality(String),
    instance LowCardinality(String),
    event LowCardinality(String),
    subject String CODEC(ZSTD(1)),
    detail String CODEC(ZSTD(1)),
    config_version UInt32,
    config_hash LowCardinality(String),
    actor LowCardinality(String)
) ENGINE = MergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, event)
TTL toDateTime(ts) + toIntervalDay(${AUDIT_TTL_DAYS})
SETTINGS non_replicated_deduplication_window = 10000`;

const attr = (key: string) => `SpanAttributes['${key}']`;

/**
 * Gateways' events arrive as `keel.audit` spans (gateway/telemetry/audit-spans.ts) and become
 * rows here, the same way requests become llm_requests rows: a view on otel_traces, so the
 * collector's ingest stays one generic path, the dedup token covers both tables at once, and an
 * OpenTelemetry Collector writing otel_traces in Keel's place feeds the audit log too. The source
 * is fixed: only gateways send audit spans (the collector writes its own rows directly).
 */
export const AUDIT_LOG_MV = `
CREATE MATERIALIZED VIEW IF NOT EXISTS audit_log_mv TO audit_log AS SELECT
    toDateTime64(Timestamp, 3) AS ts,
    'gateway' AS source,
    ${attr(AUDIT_ATTR.instance)} AS instance,
    ${attr(AUDIT_ATTR.event)} AS event,
    ${attr(AUDIT_ATTR.subject)} AS subject,
    ${attr(AUDIT_ATTR.detail)} AS detail,
    toUInt32OrZero(${attr(AUDIT_ATTR.configVersion)}) AS config_version,
    ${attr(AUDIT_ATTR.configHash)} AS config_hash,
    ${attr(AUDIT_ATTR.actor)} AS actor
FROM otel_traces
WHERE SpanName = '${AUDIT_SPAN}' AND ${attr(AUDIT_ATTR.event)} != ''`;
