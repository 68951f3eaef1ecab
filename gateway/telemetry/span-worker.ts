import { parentPort, workerData } from 'node:worker_threads';
import { spansOf, type FromSpanThread, type SpanThreadData, type ToSpanThread } from './span-messages.js';
import { createSpanPipeline } from './span-pipeline.js';

/**
 * The span thread: the span pipeline off the gateway's event loop, in parallel with it on
 * a core of its own. It keeps the process's priority on purpose: at nice 19 it starved
 * whenever the gateway thread saturated a shared core (bench, concurrency 64: 272,030 of
 * 357,626 spans dropped at the hand-over).
 */
const port = parentPort;
if (port === null) throw new Error('span-worker.js runs as a worker thread');
const post = (m: FromSpanThread) => port.postMessage(m);
const spans = createSpanPipeline(workerData as SpanThreadData, (destination, n) => post({ type: 'dropped', destination, spans: n }));

port.on('message', (m: ToSpanThread) => {
  if (m.type === 'audit' || m.type === 'probes') {
    if (m.type === 'audit') spans.audit(m.records);
    else spans.probes(m.records);
    post({ type: 'done', spans: m.records.length, held: spans.held() });
    return;
  }
  if (m.type === 'records') {
    for (const rec of m.records) spans.record(rec);
    post({ type: 'done', spans: spansOf(m.records), held: spans.held() });
    return;
  }
  const done = m.type === 'flush' ? spans.flush().then(() => 0) : spans.shutdown(m.bound);
  void done.then(
    (dropped) => post({ type: 'flushed', id: m.id, dropped }),
    () => post({ type: 'flushed', id: m.id, dropped: 0 }),
  );
});
