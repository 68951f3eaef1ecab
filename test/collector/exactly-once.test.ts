import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';
import { startKeel, type KeelProcess } from '../helpers/procs.js';

/**
 * Exactly once to the last table (issue 13 §1), end to end on real processes: `keel simulator`,
 * `keel gateway` and `keel collector`. Every insert the collector makes is sent twice under its
 * token (KEEL_FAULT_DOUBLE_INSERT), and the collector is SIGKILLed right after ClickHouse
 * acknowledged the first otel_traces group and before its spool files were removed
 * (KEEL_FAULT_CRASH_AFTER_INSERT), so the restarted collector replays a group that already
 * landed. Every table's total must still equal the gateway's own request count.
 */
const CLIENT_KEY = 'once-client-key-0123456789abcdef';
const TOKEN = 'once-collector-token-0123456789abcdef';
/** Requests before the crash, and after the restart. */
const N = 40;
const M = 25;

describe('exactly once through a crash between the store\'s ack and the spool deletion', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keel-once-'));
  const spoolDir = join(dir, 'spool');
  let sim: KeelProcess;
  let collector: KeelProcess;
  let gateway: KeelProcess;
  let collectorPort = 0;

  /** Same store, spool and port; `flush` and `batch` decide when the insert (and so the crash) happens. */
  function config(file: string, flushMs: number, batchRows: number, simUrl: string): void {
    writeFileSync(
      join(dir, file),
      [
        `auth: { keys: [{ id: once, key: "${CLIENT_KEY}", team: t }] }`,
        'providers:',
        `  sim: { type: openai-compatible, base_url: "${simUrl}/v1", api_key: "sk-once-provider-key-0123456789" }`,
        'routes:',
        '  chat: { targets: [{ provider: sim, model: "honest;tokens=5" }] }',
        'telemetry:',
        `  collector: { port: ${collectorPort}, flush_ms: ${flushMs}, batch_rows: ${batchRows}, spool_dir: ${spoolDir}, token: "${TOKEN}" }`,
        `  store: { path: ${join(dir, 'data')} }`,
        'slo: { port: 0 }',
        '',
      ].join('\n'),
    );
  }

  const startCollector = (file: string, env: NodeJS.ProcessEnv) => startKeel(['collector', '--config', file], dir, /listening on (http:\/\/\S+) \(OTLP/, { ...process.env, ...env });

  beforeAll(async () => {
    sim = await startKeel(['simulator', '--port', '0'], dir);
    collectorPort = await freePort();
    // Before the crash: one insert once every span of the N requests is in (server + client span
    // each), so no export is in flight when the process dies; after it, inserts every 100 ms.
    config('keel.yaml', 60_000, 2 * N, sim.url);
    config('keel-after.yaml', 100, 25_000, sim.url);
    collector = await startCollector('keel.yaml', { KEEL_FAULT_DOUBLE_INSERT: '1', KEEL_FAULT_CRASH_AFTER_INSERT: 'otel_traces' });
    gateway = await startKeel(['gateway', '--port', '0'], dir, /gateway listening on (http:\/\/\S+)/);
  }, 120_000);

  afterAll(async () => {
    for (const p of [gateway, collector, sim]) await p?.stop();
  });

  async function sql(query: string): Promise<number> {
    const res = await fetch(`${collector.url}/query`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: query });
    expect(res.status, await res.clone().text()).toBe(200);
    // keel query's table: header, rule, value, row count.
    return Number((await res.text()).split('\n')[2]?.trim());
  }

  /** n requests, half of them streamed; request ids `${phase}-${i}`. */
  async function drive(oai: OpenAI, n: number, phase: string): Promise<number> {
    let ok = 0;
    for (let i = 0; i < n; i++) {
      const headers = { 'x-request-id': `${phase}-${i}` };
      if (i % 2 === 0) {
        for await (const c of await oai.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'go' }] }, { headers })) void c;
      } else await oai.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'go' }] }, { headers });
      ok++;
    }
    return ok;
  }

  /** The gateway's own count: keel_requests_total summed over its labels. */
  async function gatewayCount(): Promise<number> {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    return [...text.matchAll(/^keel_requests_total\{[^}]*\}\s+(\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  }

  const totals = async () => ({
    otel_traces_server: await sql("SELECT count() FROM otel_traces WHERE SpanKind = 'Server'"),
    otel_traces_client: await sql("SELECT count() FROM otel_traces WHERE SpanKind = 'Client'"),
    llm_requests: await sql('SELECT count() FROM llm_requests'),
    llm_attempts: await sql('SELECT count() FROM llm_attempts'),
    sli_1m_requests: await sql('SELECT toUInt64(sum(requests)) FROM sli_1m'),
  });

  it('every table equals the gateway\'s count after doubled inserts, a crash after the ack and a restart', async () => {
    const oai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0, timeout: 20_000 });
    let answered = await drive(oai, N, 'before');
    // Once all 2N spans are in (batch_rows), a group is inserted — every row, or all but the last
    // export's when that one would overfill it — and the collector dies by its own hook at the ack.
    const exit = await new Promise<NodeJS.Signals | null>((resolve) => (collector.alive() ? collector.child.once('exit', (_code, signal) => resolve(signal)) : resolve(collector.child.signalCode)));
    expect(exit).toBe('SIGKILL');
    expect(collector.output()).toMatch(/ClickHouse acknowledged \d+ row\(s\) of otel_traces .*killing the process before the spool files are removed/);
    // Killed before the deletion: the group's manifest and its members are still on disk.
    const left = readdirSync(spoolDir);
    expect(left.filter((f) => f.endsWith('.group')).length).toBeGreaterThanOrEqual(1);
    // Members: `.rows` files from the gateway's protobuf exports (`.json` for other bodies).
    expect(left.filter((f) => f.endsWith('.rows') || f.endsWith('.json')).length).toBeGreaterThanOrEqual(1);

    // The restart replays that group (the same token: ClickHouse has it) and keeps doubling every insert.
    collector = await startCollector('keel-after.yaml', { KEEL_FAULT_DOUBLE_INSERT: '1' });
    const health = (await (await fetch(`${collector.url}/healthz`)).json()) as { replayedBatches: number; spoolFiles: number };
    expect(health.replayedBatches).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(spoolDir, left.find((f) => f.endsWith('.group')) ?? 'none'))).toBe(false);
    answered += await drive(oai, M, 'after');

    // One exporter, in order: once the last request's row is stored, every row before it is too.
    const last = `SELECT count() FROM llm_requests WHERE request_id = 'after-${M - 1}'`;
    for (let i = 0; i < 150 && (await sql(last)) === 0; i++) await new Promise((r) => setTimeout(r, 100));
    // A doubled row would show up after the first copy: give the inserts time to go twice.
    await new Promise((r) => setTimeout(r, 500));
    const counted = await gatewayCount();
    const t = await totals();
    console.log(`[exactly once] gateway keel_requests_total ${counted}, client answers ${answered}; tables ${JSON.stringify(t)}`);
    expect(counted).toBe(N + M);
    expect(answered).toBe(N + M);
    expect(t).toEqual({ otel_traces_server: counted, otel_traces_client: counted, llm_requests: counted, llm_attempts: counted, sli_1m_requests: counted });
  }, 120_000);
});
