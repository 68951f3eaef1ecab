import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';

/**
 * A caller that stops reading must stall the upstream read, not grow Keel's
 * memory: with ~8 MB of stream and loopback socket buffers of a few MB, the
 * simulator can only finish writing once the caller reads again.
 */
describe('streaming backpressure', () => {
  let h: Harness;
  const word = 'x'.repeat(200);
  const tokens = 40_000;
  beforeAll(async () => {
    h = await startHarness({ behaviours: { 'gpt-up': { text: Array.from({ length: tokens }, () => word).join(' ') } } });
  });
  afterAll(() => h.close());

  it('a paused caller pauses the upstream; resuming delivers everything', async () => {
    const res = await request(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-sim', stream: true, messages: [{ role: 'user', content: 'big' }] }),
      highWaterMark: 1024,
    });
    expect(res.statusCode).toBe(200);
    const iterator = res.body[Symbol.asyncIterator]();
    await iterator.next(); // read one chunk, then stop reading
    await new Promise((r) => setTimeout(r, 600));
    const attempt = h.sim.attemptsFor('gpt-up')[0];
    expect(attempt?.endedAt).toBeUndefined(); // the simulator is blocked on its writes
    let bytes = 0;
    let tail = '';
    for (;;) {
      const next = await iterator.next();
      if (next.done === true) break;
      const chunk = next.value as Buffer;
      bytes += chunk.length;
      tail = (tail + chunk.toString('utf8')).slice(-64);
    }
    expect(bytes).toBeGreaterThan(tokens * word.length);
    expect(tail).toContain('[DONE]');
    const done = await eventually(() => h.sim.attemptsFor('gpt-up').find((a) => a.endedAt !== undefined));
    expect(done.outcome).toBe('ok');
  });
});
