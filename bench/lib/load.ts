import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/** One closed-loop load cell: `connections` clients each send the next request when the last answer ends. */
export interface LoadSpec {
  url: string;
  path: string;
  body: string;
  headers?: Record<string, string>;
  connections: number;
  seconds: number;
  /** Streams: time to the first content token is recorded as well. */
  stream?: boolean;
  /** Makes each request's body distinct (failover cells key a fault on it). */
  bodyFor?: (n: number) => string;
}

export interface LoadResult {
  requests: number;
  rps: number;
  /** Sorted latencies in ms (whole answer read). */
  latency: Float64Array;
  /** Sorted times to the first content token in ms (streams only). */
  ttft: Float64Array;
  /**
   * Sorted gaps in ms between consecutive network chunks carrying a content token, as the
   * client reads them (streams only): what a proxy adds to each token after the first.
   */
  gaps: Float64Array;
  errors: number;
  firstError?: string;
}

// A stream's first content token in either wire format: OpenAI `"content":"x`, Anthropic `"text":"x`.
const TOKEN = /"(?:content|text)":"[^"]/;

/**
 * undici instead of autocannon: autocannon's histogram holds whole milliseconds, and the
 * overhead this bench looks for is a fraction of one. performance.now() is sub-microsecond.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const origin = new URL(spec.url).origin;
  const pool = new Pool(origin, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json', authorization: 'Bearer bench', ...spec.headers };
  const latency: number[] = [];
  const ttft: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const started = performance.now();
  const deadline = started + spec.seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const body = spec.bodyFor ? spec.bodyFor(n++) : spec.body;
      const t0 = performance.now();
      try {
        const res = await pool.request({ origin, path: spec.path, method: 'POST', headers, body });
        let first = 0;
        let last = 0;
        let text = '';
        for await (const chunk of res.body) {
          if (spec.stream !== true) continue;
          if (first === 0) {
            text += (chunk as Buffer).toString();
            if (TOKEN.test(text)) first = last = performance.now();
          } else if (TOKEN.test((chunk as Buffer).toString())) {
            // A token split across two reads counts once, at its first part: rare on loopback.
            const now = performance.now();
            gaps.push(now - last);
            last = now;
          }
        }
        const t1 = performance.now();
        if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
        latency.push(t1 - t0);
        if (first > 0) ttft.push(first - t0);
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, client));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  const result: LoadResult = {
    requests: latency.length,
    rps: latency.length / elapsed,
    latency: Float64Array.from(latency).sort(),
    ttft: Float64Array.from(ttft).sort(),
    gaps: Float64Array.from(gaps).sort(),
    errors,
  };
  if (firstError !== undefined) result.firstError = firstError;
  return result;
}

/** The q-quantile of sorted values (nearest rank). */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}
