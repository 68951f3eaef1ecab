import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';

/**
 * How long after its export a request's row can be read in llm_requests: probes (one request's
 * spans each, with a known keel.request_id) are sent at a steady pace while something else keeps
 * the collector busy, and llm_requests is polled through the collector's /query (as `keel query`
 * does) for the ones not seen yet. A latency runs from just before the probe's POST to the poll
 * that first returns its row, so it is at most `pollMs` late.
 */
export interface VisibilityOptions {
  /** The collector's URL. */
  url: string;
  /** The folder the collector was started in: its /query token is there (query.token, written by `keel collector`). */
  dir: string;
  /** OTLP bodies, probes[k] holding request `${prefix}${first + k}`. */
  probes: Uint8Array[];
  first?: number;
  prefix: string;
  /** Probes are sent this often… */
  everyMs: number;
  /** …until this performance.now() deadline; then the poll goes on up to `waitMs` for the rest. */
  until: number;
  pollMs?: number;
  waitMs?: number;
  /** Sends one OTLP body, retrying 429/503 as the blast does. */
  send: (body: Uint8Array) => Promise<void>;
}

export interface Visibility {
  /** Seconds, one per probe seen. */
  latencies: number[];
  /** Probes never seen within waitMs. */
  missing: number;
}

async function seen(url: string, token: string, ids: string[], prefix: string): Promise<Set<string>> {
  const list = ids.map((id) => `'${id}'`).join(', ');
  const res = await request(`${url}/query`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: `SELECT request_id FROM llm_requests WHERE request_id IN (${list})` });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`the collector's /query answered ${res.statusCode}: ${text}`);
  // The answer is an aligned text table; the ids are all that matches the prefix in it.
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new Set(text.match(new RegExp(`${escaped}\\d+`, 'g')) ?? []);
}

export async function measureVisibility(o: VisibilityOptions): Promise<Visibility> {
  const token = readFileSync(join(o.dir, 'query.token'), 'utf8').trim();
  const pollMs = o.pollMs ?? 100;
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let sending = true;
  const sender = (async () => {
    for (let k = 0; k < o.probes.length && performance.now() < o.until; k++) {
      const body = o.probes[k];
      if (body === undefined) break;
      const next = performance.now() + o.everyMs;
      sentAt.set(`${o.prefix}${(o.first ?? 0) + k}`, performance.now());
      await o.send(body);
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
    sending = false;
  })();
  let deadline = Number.POSITIVE_INFINITY;
  while (sending || (sentAt.size > 0 && performance.now() < deadline)) {
    if (!sending && deadline === Number.POSITIVE_INFINITY) deadline = performance.now() + (o.waitMs ?? 30_000);
    const ids = [...sentAt.keys()];
    if (ids.length > 0) {
      const found = await seen(o.url, token, ids, o.prefix);
      const now = performance.now();
      for (const id of found) {
        const t0 = sentAt.get(id);
        if (t0 === undefined) continue;
        latencies.push((now - t0) / 1000);
        sentAt.delete(id);
      }
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  await sender;
  return { latencies, missing: sentAt.size };
}
