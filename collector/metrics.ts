import type { Batcher } from './batcher.js';

/**
 * The collector's own health as numbers, on /healthz (JSON) and /metrics (Prometheus text).
 *
 * Hand-written text format rather than a registry: the collector has no MeterProvider, and every
 * number here is already a counter or size the batcher and spool keep. Wiring
 * @opentelemetry/exporter-prometheus would add a provider, one observable callback per gauge and
 * its name rewriting (unit suffixes, target_info) for the same dozen lines. These never go
 * through ClickHouse on purpose: they matter most when ClickHouse is down.
 */
interface Metric {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  value: number;
}

function metricsOf(b: Batcher): Metric[] {
  const s = b.stats;
  const spool = b.spool;
  const m = (name: string, type: Metric['type'], help: string, value: number): Metric => ({ name, type, help, value });
  return [
    m('keel_collector_spool_bytes', 'gauge', 'Bytes in the spool: accepted data ClickHouse does not have yet.', spool.bytes),
    m('keel_collector_spool_max_bytes', 'gauge', 'telemetry.collector.spool_max_bytes: past it the oldest batches are dropped (0: unbounded).', b.spoolMaxBytes ?? 0),
    m('keel_collector_spool_files', 'gauge', 'Files in the spool (batches and insert manifests).', spool.files),
    m('keel_collector_spool_oldest_age_seconds', 'gauge', 'Age of the oldest spooled file: how far behind ClickHouse is.', spool.oldestAgeS()),
    m('keel_collector_spool_dropped_files_total', 'counter', 'Spooled batches deleted unsent because the spool passed spool_max_bytes.', s.droppedFiles),
    m('keel_collector_spool_dropped_spans_total', 'counter', 'Spans in those batches.', s.droppedSpans),
    m('keel_collector_spool_dropped_rows_total', 'counter', 'Rows in those batches, every table (spans and metric points).', s.droppedRows),
    m('keel_collector_spool_quarantined_files_total', 'counter', 'Spool files that could not be read back, moved to quarantine/.', spool.stats.quarantinedFiles),
    m('keel_collector_spool_write_errors_total', 'counter', 'Requests answered 503 because the spool could not be written (ENOSPC, EIO).', s.spoolWriteErrors),
    m('keel_collector_queued_rows', 'gauge', 'Rows on disk waiting for their insert.', s.queuedRows),
    m('keel_collector_queue_admit_rows', 'gauge', 'Rows the queue may hold waiting before exports get 429: max_queue_ms of inserts at their measured pace, or max_queue_rows.', b.admitRows()),
    m('keel_collector_refused_queue_total', 'counter', 'Exports answered 429 because the queue was at its bound (max_queue_ms or max_queue_rows); senders retry.', s.refusedQueue),
    m('keel_collector_refused_bodies_total', 'counter', 'Exports answered 429 because the bodies being received at once would pass max_inflight_bytes; senders retry.', s.refusedBodies),
    m('keel_collector_inserted_rows_total', 'counter', 'Rows ClickHouse acknowledged.', s.insertedRows),
    m('keel_collector_replayed_batches_total', 'counter', 'Spooled batches and groups landed by a replay.', s.replayedBatches),
  ];
}

export function collectorMetrics(b: Batcher): string {
  return metricsOf(b)
    .map((x) => `# HELP ${x.name} ${x.help}\n# TYPE ${x.name} ${x.type}\n${x.name} ${Number.isInteger(x.value) ? x.value : x.value.toFixed(3)}\n`)
    .join('');
}

/** /healthz: the batcher's counters plus the spool's size, age and bound. */
export function collectorStatus(b: Batcher): Record<string, number> {
  const spool = b.spool;
  return {
    ...b.stats,
    queueAdmitRows: b.admitRows(),
    spoolBytes: spool.bytes,
    spoolMaxBytes: b.spoolMaxBytes ?? 0,
    spoolFiles: spool.files,
    spoolOldestAgeS: Math.round(spool.oldestAgeS() * 1000) / 1000,
    quarantinedFiles: spool.stats.quarantinedFiles,
    tmpRemoved: spool.stats.tmpRemoved,
  };
}
