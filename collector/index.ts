/**
 * Keel's OTLP/HTTP collector (DESIGN.md §2): receives traces and metrics
 * (protobuf or JSON, gzip), maps them to the clickhouseexporter tables, batches
 * them into ClickHouse with dedup tokens, and spools to disk while ClickHouse is away.
 */
export { startCollector, storeInsert, type CollectorOptions, type CollectorSettings, type RunningCollector } from './collector.js';
export { Batcher, QueueFull, SpoolWriteFailed, type BatcherOptions, type BatcherStats, type Row } from './batcher.js';
export { Spool, diskIo, QUARANTINE_DIR, type SpoolIo, type SpoolOptions } from './spool.js';
export { collectorMetrics, collectorStatus } from './metrics.js';
export { buildCollectorServer } from './server.js';
export { traceRows } from './rows/traces.js';
export { metricRows } from './rows/metrics.js';
