/**
 * Keel's OTLP/HTTP collector (DESIGN.md §2): receives traces and metrics
 * (protobuf or JSON, gzip), maps them to the clickhouseexporter tables, batches
 * them into ClickHouse with dedup tokens, and spools to disk while ClickHouse is away.
 */
export { startCollector, storeInsert, type CollectorOptions, type CollectorSettings, type RunningCollector } from './collector.js';
export { Batcher, QueueFull, SpoolFull, type BatcherOptions, type Row } from './batcher.js';
export { Spool } from './spool.js';
export { buildCollectorServer } from './server.js';
export { traceRows } from './rows/traces.js';
export { metricRows } from './rows/metrics.js';
