import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what its last full GC kept, before the next one.
 *
 * V8 picks that factor itself from GC and mutator speed, up to 4× on a machine with this much
 * memory: measured here (bench/reading.md, "the gateway's memory"), an everything-on gateway
 * with its exact cache full keeps ~97 MB after a mark-compact and lets the heap reach ~257 MB
 * before the next, so RSS sat near 500 MB for ~100 MB of live data. Under a memory limit an
 * operator may want RSS to follow what the gateway holds instead; the price is the tail: at 50 %
 * full GCs came several times as often and p99 at 64 connections went 20-25 -> 68-70 ms on the
 * one core the gateway had, so the default (server.heap_growth_percent 0) leaves V8 alone.
 *
 * The flag is read each time V8 recomputes its heap limits (after every full GC), which is why
 * setting it at start-up behaves as it does on the command line (test/cli/heap.test.ts: the same
 * peak heap on a promoting workload either way); the heap sizes fixed at isolate creation
 * (--max-old-space-size, semi-spaces) are not settable this way and are left alone.
 */
export const HEAP_FLAG = '--heap-growing-percent';

/**
 * The flag to set, or undefined: 0 leaves V8's own heuristics, and an operator's own
 * --heap-growing-percent (on the command line or in NODE_OPTIONS) wins over the config.
 */
export function heapGrowthFlag(percent: number, execArgv: readonly string[], nodeOptions: string | undefined): string | undefined {
  if (percent <= 0) return undefined;
  const given = (arg: string) => arg === HEAP_FLAG || arg.startsWith(`${HEAP_FLAG}=`) || arg === '--heap_growing_percent' || arg.startsWith('--heap_growing_percent=');
  if (execArgv.some(given) || (nodeOptions ?? '').split(/\s+/).some(given)) return undefined;
  return `${HEAP_FLAG}=${Math.round(percent)}`;
}

/** Sets server.heap_growth_percent for this process; says what it did, for the start-up log. */
export function boundHeapGrowth(percent: number): string | undefined {
  const flag = heapGrowthFlag(percent, process.execArgv, process.env.NODE_OPTIONS);
  if (flag === undefined) return undefined;
  setFlagsFromString(flag);
  return `heap growth bounded to ${Math.round(percent)} % past the live set (server.heap_growth_percent)`;
}
