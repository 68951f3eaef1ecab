import { existsSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { GCProfiler, getHeapStatistics } from 'node:v8';

/**
 * Preloaded into a gateway (`node --import …/alloc-probe.js`) by bench/alloc.ts. SIGUSR2 opens
 * a window, the next SIGUSR2 closes it and writes `alloc-<pid>-<n>.json` into KEEL_ALLOC_DIR:
 * the bytes the main isolate allocated in the window (v8.GCProfiler: each GC's heap use before
 * it minus the use after the one before, plus what is still young at the end), the GCs and their
 * pauses, and when a file `sites` exists in that folder V8's sampling heap profile including objects already
 * collected (so it shows where bytes are allocated, not where they are retained). Counts and
 * bytes, unlike CPU time, hardly move with the neighbours on a shared machine.
 */
const DIR = process.env.KEEL_ALLOC_DIR ?? '.';
// 8 KiB: a few samples per request at ~100 KB/request, cheap enough to leave the load's shape alone.
const SAMPLING_INTERVAL = 8192;

interface GcStat {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

let window: { gc: GCProfiler; usedAtStart: number; session?: Session } | undefined;
let n = 0;

function post(s: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((res, rej) => s.post(method, params ?? {}, (err, r) => (err === null ? res(r) : rej(err))));
}

async function open(): Promise<void> {
  const gc = new GCProfiler();
  let session: Session | undefined;
  if (existsSync(join(DIR, 'sites'))) {
    session = new Session();
    session.connect();
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: SAMPLING_INTERVAL, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
  }
  window = { gc, usedAtStart: getHeapStatistics().used_heap_size, session };
  gc.start();
}

async function close(): Promise<void> {
  const w = window;
  if (w === undefined) return;
  window = undefined;
  const stats = (w.gc.stop()?.statistics ?? []) as unknown as GcStat[];
  let allocated = 0;
  let prevAfter = w.usedAtStart;
  for (const s of stats) {
    allocated += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prevAfter);
    prevAfter = s.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += Math.max(0, getHeapStatistics().used_heap_size - prevAfter);
  const pauses = stats.map((s) => ({ type: s.gcType, us: s.cost }));
  let profile: unknown;
  if (w.session !== undefined) {
    profile = ((await post(w.session, 'HeapProfiler.stopSampling')) as { profile: unknown }).profile;
    w.session.disconnect();
  }
  writeFileSync(join(DIR, `alloc-${process.pid}-${n++}.json`), JSON.stringify({ allocated, pauses, profile }));
}

process.on('SIGUSR2', () => {
  void (window === undefined ? open() : close()).catch((e: unknown) => process.stderr.write(`alloc probe: ${String(e)}\n`));
});
