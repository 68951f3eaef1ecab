import type { Meter } from '@opentelemetry/api';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 10;

/**
 * Event-loop delay as OTel's Node.js runtime conventions name it (nodejs.eventloop.delay.*,
 * seconds): the first thing to look at when a gateway adds latency under load. The histogram
 * restarts after each collection, so every reading covers the time since the previous one.
 * Resolution 10 ms is the Node default; finer sampling costs timer wake-ups. Node's samples
 * are whole timer intervals, so the resolution is taken off: what remains is the delay.
 */
export function observeEventLoop(meter: Meter): () => void {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  const gauges = {
    'nodejs.eventloop.delay.p50': () => h.percentile(50),
    'nodejs.eventloop.delay.p90': () => h.percentile(90),
    'nodejs.eventloop.delay.p99': () => h.percentile(99),
    'nodejs.eventloop.delay.max': () => h.max,
    'nodejs.eventloop.delay.mean': () => h.mean,
  };
  const observables = Object.entries(gauges).map(([name, read]) => ({ g: meter.createObservableGauge(name, { unit: 's', description: 'Event loop delay since the last collection' }), read }));
  meter.addBatchObservableCallback(
    (obs) => {
      // An empty histogram reports NaN/huge sentinels; a quiet loop has no delay to show.
      const empty = h.count === 0;
      for (const o of observables) obs.observe(o.g, empty ? 0 : Math.max(0, o.read() / 1e6 - RESOLUTION_MS) / 1000);
      h.reset();
    },
    observables.map((o) => o.g),
  );
  return () => h.disable();
}
