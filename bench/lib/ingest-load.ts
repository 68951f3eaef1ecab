import { performance } from 'node:perf_hooks';
import { request } from 'undici';

/** One OTLP/protobuf export body and the spans in it. */
export type Batch = { body: Uint8Array; spans: number };

/** Exports the collector refused (429/503) and the senders sent again: what a queue bound costs. */
export const refusals = { count: 0 };

/** Sends one export until it is accepted; a refusal waits 100 ms and counts. */
export async function sendBatch(url: string, b: Batch): Promise<void> {
  for (;;) {
    const res = await request(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: b.body });
    await res.body.dump();
    if (res.statusCode === 200) return;
    if (res.statusCode !== 429 && res.statusCode !== 503) throw new Error(`collector answered ${res.statusCode}`);
    refusals.count++;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function insertedRows(url: string): Promise<number> {
  const res = await request(`${url}/healthz`);
  return ((await res.body.json()) as { insertedRows: number }).insertedRows;
}

export interface BlastOptions {
  senders: number;
  /** Cycle through the batches until this performance.now(); else send each once. */
  until?: number;
  /** Spans/s: batches start no sooner than this rate allows, instead of as fast as the collector answers. */
  pace?: number;
}

/**
 * Sends the batches from `senders` concurrent senders, then waits until the collector reports
 * them inserted (its /healthz insertedRows, not the 200s, which mean "on disk"): spans stored
 * and the seconds that took.
 */
export async function blast(url: string, batches: Batch[], o: BlastOptions): Promise<{ spans: number; seconds: number }> {
  let next = 0;
  let spans = 0;
  let claimed = 0;
  const stored0 = await insertedRows(url);
  const t0 = performance.now();
  const sender = async () => {
    for (;;) {
      const i = next++;
      if (o.until === undefined ? i >= batches.length : performance.now() >= o.until) return;
      const b = batches[i % batches.length];
      if (b === undefined) return;
      const due = o.pace === undefined ? 0 : t0 + (claimed / o.pace) * 1000;
      claimed += b.spans;
      if (performance.now() < due) await new Promise((r) => setTimeout(r, due - performance.now()));
      await sendBatch(url, b);
      spans += b.spans;
    }
  };
  await Promise.all(Array.from({ length: o.senders }, sender));
  while ((await insertedRows(url)) - stored0 < spans) await new Promise((r) => setTimeout(r, 20));
  return { spans, seconds: (performance.now() - t0) / 1000 };
}
