import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

/**
 * Preload (`node --import …/phases.js`) that times a proxy's own phases of a stream from inside,
 * for any Node proxy that takes requests on node:http and calls upstream with undici (the floor
 * and Keel alike), without touching its code:
 * - request: node:http has the request → undici sends it upstream;
 * - first: undici parsed a chunk → the proxy's first write to its caller (the one that
 *   carries the headers: the first token's for Keel, which holds back what comes before it);
 * - chunk: the same for every later write.
 * Intervals inside one process: a client's TTFT includes the hops and wake-ups around them,
 * these do not, so the two together say how much of a proxy's added time is its own work.
 * Meant for one stream at a time (concurrency 1): the marks are per process, not per request.
 * SIGUSR2 forgets what was measured (after the warm-up); SIGUSR1 writes medians and p90s to
 * BENCH_PHASES_FILE as JSON.
 */
const file = process.env.BENCH_PHASES_FILE;
const samples = { request: [] as number[], first: [] as number[], chunk: [] as number[] };
let requestAt = 0;
let chunkAt = 0;
let firstWrite = false;

subscribe('http.server.request.start', () => {
  requestAt = performance.now();
  firstWrite = true;
});
subscribe('undici:client:sendHeaders', () => {
  if (requestAt > 0) samples.request.push(performance.now() - requestAt);
});
subscribe('undici:request:bodyChunkReceived', () => {
  chunkAt = performance.now();
});

// Wrapped rather than observed: node:http publishes no event per write. Called with the response as `this`.
// eslint-disable-next-line @typescript-eslint/unbound-method
const write = ServerResponse.prototype.write;
ServerResponse.prototype.write = function (this: ServerResponse, ...args: Parameters<typeof write>): boolean {
  const ok = write.apply(this, args);
  if (chunkAt > 0) {
    (firstWrite ? samples.first : samples.chunk).push(performance.now() - chunkAt);
    firstWrite = false;
  }
  return ok;
} as typeof write;

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(p * (s.length - 1))] ?? Number.NaN;
};

process.on('SIGUSR2', () => {
  for (const xs of Object.values(samples)) xs.length = 0;
});
process.on('SIGUSR1', () => {
  if (file === undefined) return;
  const out = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, { p50: q(xs, 0.5), p90: q(xs, 0.9), n: xs.length }]));
  writeFileSync(file, JSON.stringify(out));
});
