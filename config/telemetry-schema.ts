import { z } from 'zod';
import { checkSecret, isLoopbackHost } from './secret.js';

/** USD per million tokens. */
export const priceSchema = z.object({ input: z.number().min(0), output: z.number().min(0), cache_read: z.number().min(0).optional() }).strict();

const exportSchema = z
  .object({
    /** OTLP/HTTP base URL (…:4318); `/v1/traces` and `/v1/metrics` are appended. */
    endpoint: z.url({ protocol: /^https?$/ }),
    /** Sent with every export (an APM's API key). Never logged. */
    headers: z.record(z.string(), z.string()).optional(),
    /** Share of traces sent to this endpoint (by trace id, so a trace is whole or absent). */
    sample: z.number().min(0).max(1).default(1),
  })
  .strict();

/**
 * Where telemetry goes and how long it stays. The collector and its ClickHouse
 * store are always fed, never sampled (SLOs need every request); `export` adds
 * APMs with their own sampling.
 */
export const telemetrySchema = z
  .object({
    enabled: z.boolean().default(true),
    service_name: z.string().min(1).default('keel'),
    /** The collector the gateway sends to; `keel start` runs it on this port. */
    collector: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(4318),
        /** Where gateways send, when not http://host:port (a collector on another machine or container). */
        url: z.url({ protocol: /^https?$/ }).optional(),
        /** Rows held in memory before the collector answers 429/503 (back-pressure to exporters). */
        max_queue_rows: z.number().int().positive().default(200_000),
        /**
         * Insert work (measured, in ms) the queued rows may stand for before senders get 429 +
         * Retry-After: a row accepted is queryable within about twice this at the ingest ceiling.
         * 0: max_queue_rows alone (more absorbed, later visible).
         */
        max_queue_ms: z.number().int().min(0).max(600_000).default(1_000),
        /** Most rows one insert takes; more wait for the next insert. */
        batch_rows: z.number().int().positive().default(25_000),
        /** Longest a row waits on disk before its insert (sooner once a table has batch_rows). Senders are answered as soon as rows are on disk. */
        flush_ms: z.number().int().positive().default(1_000),
        /** The write-ahead: accepted batches wait here until ClickHouse has them (replayed after a crash or an outage). */
        spool_dir: z.string().default('./.keel/spool'),
        /** Largest export body, before and after gzip is inflated (a gzip bomb stops here); larger gets 413. */
        max_body_bytes: z.number().int().positive().default(32 * 1024 * 1024),
        /** Bodies being received at once, by declared length (chunked ones count as max_body_bytes); past it, 429 + Retry-After. */
        max_inflight_bytes: z.number().int().positive().default(256 * 1024 * 1024),
        /**
         * Bytes the spool may hold while ClickHouse refuses or lags; past it the oldest batches are
         * dropped, counted (keel_collector_spool_dropped_spans_total) and logged. Senders keep getting
         * 200: the newest data is what SLOs and routing need.
         */
        spool_max_bytes: z.number().int().positive().default(1024 * 1024 * 1024),
        /** The earlier name, when the bound refused new data (429): named in the error so an old keel.yaml says what to change. */
        max_spool_bytes: z.undefined({ error: 'renamed to spool_max_bytes (same bound; past it the oldest spooled batches are now dropped instead of new data refused)' }).optional(),
        /** Bearer token for OTLP ingest (/v1/traces, /v1/metrics) and /query; required beyond loopback. Gateways send it. */
        token: z.string().optional(),
      })
      .strict()
      .superRefine((c, ctx) => {
        if (c.token !== undefined) checkSecret(c.token, ['token'], ctx);
        else if (!isLoopbackHost(c.host)) {
          // Anyone who can reach it could forge spans (and so SLOs and routing weights) and read every prompt stored.
          ctx.addIssue({ code: 'custom', path: ['token'], message: `is required: the collector listens beyond loopback (host ${c.host}); set a token (e.g. \${KEEL_COLLECTOR_TOKEN})` });
        }
      })
      .default({ host: '127.0.0.1', port: 4318, max_queue_rows: 200_000, max_queue_ms: 1_000, batch_rows: 25_000, flush_ms: 1_000, spool_dir: './.keel/spool', max_body_bytes: 32 * 1024 * 1024, max_inflight_bytes: 256 * 1024 * 1024, spool_max_bytes: 1024 * 1024 * 1024 }),
    store: z
      .object({
        /** A ClickHouse server (`http://host:8123`); absent means embedded chDB in `path`. */
        url: z.url({ protocol: /^https?$/ }).optional(),
        path: z.string().default('./.keel/data'),
        database: z.string().default('default'),
        username: z.string().optional(),
        password: z.string().optional(),
        /**
         * A ClickHouse cluster (a `remote_servers` name): migrations then create every table
         * ON CLUSTER with Replicated…MergeTree engines. Absent: single-node DDL (also right for
         * ClickHouse Cloud, whose shared storage replicates MergeTree tables itself).
         */
        cluster: z
          .string()
          .regex(/^[A-Za-z_][\w-]*$/, 'is not a cluster name (letters, digits, _ and -)')
          .optional(),
        /**
         * Shards in `cluster`. 1 (every replica holds all data) needs no Distributed tables;
         * more adds `<table>_all` Distributed tables, and the SLO engine reads those. Absent: 1
         * (optional rather than defaulted, so a store block built in code needs no new field).
         */
        shards: z.number().int().min(1).optional(),
        /** Days kept per table family; 0 keeps forever. */
        ttl_days: z
          .object({ traces: z.number().int().min(0).default(7), metrics: z.number().int().min(0).default(7), requests: z.number().int().min(0).default(30), sli: z.number().int().min(0).default(400) })
          .strict()
          .default({ traces: 7, metrics: 7, requests: 30, sli: 400 }),
      })
      .strict()
      .superRefine((s, ctx) => {
        // Shards without a cluster would name no cluster for the Distributed tables to span.
        if (s.shards !== undefined && s.shards > 1 && s.cluster === undefined) ctx.addIssue({ code: 'custom', path: ['shards'], message: `is ${s.shards}, which needs telemetry.store.cluster (the cluster whose shards hold the data)` });
        // Embedded chDB is one process on one machine: it has no cluster to join.
        if (s.cluster !== undefined && s.url === undefined) ctx.addIssue({ code: 'custom', path: ['cluster'], message: 'needs telemetry.store.url: embedded chDB cannot join a ClickHouse cluster' });
      })
      .default({ path: './.keel/data', database: 'default', ttl_days: { traces: 7, metrics: 7, requests: 30, sli: 400 } }),
    export: z.array(exportSchema).default([]),
    /** Record prompts and completions on spans (gen_ai.input.messages / output.messages). Off by default: PII. */
    capture_content: z.boolean().default(false),
    /** Max spans waiting to be sent per destination; beyond it spans are dropped and counted. */
    max_queue_spans: z.number().int().positive().default(20_000),
    /**
     * At shutdown, the longest the last export (spans and metrics) may take; what is not sent by
     * then is dropped and counted in the exit log. The collector gives its last insert as long.
     */
    flush_timeout_ms: z.number().int().min(0).default(5_000),
  })
  .strict();

export type TelemetryConfig = z.infer<typeof telemetrySchema>;
export type StoreConfig = TelemetryConfig['store'];
export type CollectorConfig = TelemetryConfig['collector'];
export type PriceConfig = z.infer<typeof priceSchema>;
