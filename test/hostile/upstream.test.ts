import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CompletedRequest } from '../../gateway/pipeline/record.js';
import { HealthRegistry } from '../../gateway/routing/health.js';
import type { BehaviourSpec } from '../../simulator/index.js';
import { eventually, startHarness, type Harness } from '../helpers/harness.js';
import { pausedReader } from '../helpers/readers.js';

/**
 * Hostile peers on both sides of the relay (DESIGN.md §6): a caller can never take a
 * provider out of rotation, and whatever a provider sends or withholds is bounded in
 * bytes and in time. Real clock, real sockets, the official client where one applies.
 */
const WORD = 'y'.repeat(5000);
const models: Record<string, BehaviourSpec> = {
  // ~20 MB of stream: far more than loopback socket buffers hold, so a caller that stops reading blocks Keel's writes.
  'big-up': { text: Array.from({ length: 4000 }, () => WORD).join(' ') },
  'slow-up': { tokens: 40, itl_ms: 20 },
  'body-stall-up': { tokens: 300, fault: 'body_stall' },
  'hang-up': { fault: 'hang' },
  'line-early-up': { fault: 'huge_line', bytes: 2_000_000, after_tokens: 0 },
  'line-late-up': { fault: 'huge_line', bytes: 2_000_000, after_tokens: 2, tokens: 6 },
  'huge-body-up': { fault: 'huge_line', bytes: 128 * 1024 * 1024 },
  'huge-error-up': { fault: 'huge_error', status: 500, bytes: 64 * 1024 * 1024 },
  'embed-stall-up': { fault: 'body_stall' },
  'embed-huge-up': { fault: 'huge_line', bytes: 64 * 1024 * 1024 },
  'embed-error-up': { fault: 'huge_error', status: 503, bytes: 64 * 1024 * 1024 },
  'embed-up': {},
  'fallback-up': { tokens: 20 },
  'honest-up': { tokens: 30 },
};

const target = (model: string) => ({ provider: 'oai', model });
const fallback = { fallbacks: [target('fallback-up')] };

describe('hostile upstreams and callers', () => {
  let h: Harness;
  let oai: OpenAI;
  const health = new HealthRegistry();
  beforeAll(async () => {
    h = await startHarness({
      behaviours: models,
      gateway: { health },
      config: (url) => ({
        server: { write_timeout_ms: 3000 },
        providers: { oai: { type: 'openai-compatible', base_url: `${url}/v1`, api_key: 'k' } },
        routes: {
          'stall-callers': { targets: [target('big-up')], timeouts: { idle_ms: 1500 } },
          'pause-leave': { targets: [target('big-up')] },
          aborts: { targets: [target('slow-up')], ...fallback },
          'body-stall': { targets: [target('body-stall-up')], ...fallback, timeouts: { idle_ms: 10_000 } },
          silent: { targets: [target('hang-up')], ...fallback, timeouts: { ttft_ms: 300, headers_ms: 5000 } },
          'line-early': { targets: [target('line-early-up')], ...fallback },
          'line-late': { targets: [target('line-late-up')] },
          // The JSON body path; the same request streamed upstream and assembled is 'huge-assembled'.
          'huge-body': { targets: [target('huge-body-up')], ...fallback, response_limits: { max_bytes: 1024 * 1024 } },
          'huge-assembled': { targets: [target('huge-body-up')], ...fallback, assemble_streams: true, response_limits: { max_bytes: 1024 * 1024, max_event_bytes: 64 * 1024 } },
          'huge-error': { targets: [target('huge-error-up')], ...fallback },
          honest: { targets: [target('honest-up')] },
          'embed-stall': { targets: [target('embed-stall-up')], timeouts: { idle_ms: 300 } },
          'embed-huge': { targets: [target('embed-huge-up')], response_limits: { max_bytes: 1024 * 1024 } },
          'embed-error': { targets: [target('embed-error-up')] },
          embed: { targets: [target('embed-up')] },
        },
      }),
    });
    oai = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0, timeout: 20_000 });
  });
  afterAll(() => h.close());

  const recordsOf = (route: string): CompletedRequest[] => h.records.filter((r) => r.requestModel === route);
  const breaker = (model: string) => health.breakers().find((b) => b.model === model)?.state;
  const ask = (model: string) => oai.chat.completions.create({ model, messages: [{ role: 'user', content: 'go' }] });
  async function streamText(model: string): Promise<string> {
    let text = '';
    const stream = await oai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'go' }] });
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    return text;
  }

  /** After every hostile case: a plain request, streamed and not, still gets its whole answer. */
  async function honestAnswered(): Promise<void> {
    const whole = (await ask('honest')).choices[0]?.message.content ?? '';
    expect(whole.split(' ')).toHaveLength(30);
    expect(await streamText('honest')).toBe(whole);
  }



  it('five callers that stop reading are cut after write_timeout_ms as caller_stalled; the breaker stays closed', async () => {
    const started = Date.now();
    const readers = await Promise.all(Array.from({ length: 5 }, () => pausedReader(h.url, 'stall-callers')));
    const recs = await eventually(() => (recordsOf('stall-callers').length === 5 ? recordsOf('stall-callers') : undefined), 10_000);
    const cutAfter = Date.now() - started;
    for (const r of readers) r.destroy();
    // Paused far longer than idle_ms (1.5 s; the in-process simulator's own gaps reach ~0.4 s on
    // a loaded machine): only the caller-side write timeout (3 s) ends it.
    expect(cutAfter).toBeGreaterThan(3000);
    expect(cutAfter).toBeLessThan(10_000);
    for (const rec of recs) {
      expect(rec.errorClass).toBe('caller_stalled');
      expect(rec.errorCode).toBe('KEEL_CLIENT_STALLED');
      expect(rec.attempts).toHaveLength(1);
      expect(rec.streamTruncated).toBe(false);
    }
    expect(breaker('big-up')).toBe('closed');
    // The upstream was released too, not left writing into a dead relay.
    await eventually(() => (h.sim.attemptsFor('big-up').every((a) => a.outcome === 'client_aborted') ? true : undefined));
    // The same target still serves an honest reader of the same 20 MB stream in full.
    const text = await streamText('stall-callers');
    expect(text.length).toBe(4000 * WORD.length + 3999);
    expect(breaker('big-up')).toBe('closed');
    await honestAnswered();
  });

  it('callers that stop reading and then leave while Keel waits on them are caller_disconnected, never a broken provider stream', async () => {
    const readers = await Promise.all(Array.from({ length: 5 }, () => pausedReader(h.url, 'pause-leave')));
    await new Promise((r) => setTimeout(r, 300));
    for (const r of readers) r.destroy();
    const recs = await eventually(() => (recordsOf('pause-leave').length === 5 ? recordsOf('pause-leave') : undefined), 5000);
    for (const rec of recs) {
      expect(rec.errorClass).toBe('caller_disconnected');
      expect(rec.attempts.map((a) => a.errorClass)).toEqual(['caller_disconnected']);
    }
    expect(breaker('big-up')).toBe('closed');
  });

  it('fifty callers that leave right after the first token: caller_disconnected, upstream aborted, nothing else tried, breaker closed', async () => {
    const one = async () => {
      const controller = new AbortController();
      const stream = await oai.chat.completions.create({ model: 'aborts', stream: true, messages: [{ role: 'user', content: 'go' }] }, { signal: controller.signal });
      try {
        for await (const c of stream) if ((c.choices[0]?.delta.content ?? '') !== '') controller.abort();
      } catch {
        // the abort surfaces here
      }
    };
    for (let batch = 0; batch < 5; batch++) await Promise.all(Array.from({ length: 10 }, one));
    const recs = await eventually(() => (recordsOf('aborts').length === 50 ? recordsOf('aborts') : undefined), 5000);
    for (const rec of recs) {
      expect(rec.errorClass).toBe('caller_disconnected');
      expect(rec.attempts.map((a) => a.errorClass)).toEqual(['caller_disconnected']);
    }
    await eventually(() => (h.sim.attemptsFor('slow-up').every((a) => a.outcome === 'client_aborted') ? true : undefined));
    expect(h.sim.attemptsFor('slow-up')).toHaveLength(50);
    expect(h.sim.attemptsFor('fallback-up')).toHaveLength(0);
    // Every one was cut well before the 40 tokens (~800 ms) finished.
    for (const a of h.sim.attemptsFor('slow-up')) expect(a.tokensSent ?? 0).toBeLessThan(20);
    expect(breaker('slow-up')).toBe('closed');
    await honestAnswered();
  });

  it('ACCEPTANCE: headers and a third of the body, then silence → the fallback answers within idle_ms, the primary tried once', async () => {
    const started = Date.now();
    const { data, response } = await ask('body-stall').withResponse();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(12_500);
    expect(elapsed).toBeGreaterThanOrEqual(9_900);
    expect(response.headers.get('x-keel-model')).toBe('fallback-up');
    expect(data.choices[0]?.message.content?.split(' ')).toHaveLength(20);
    expect(h.sim.attemptsFor('body-stall-up')).toHaveLength(1);
    const rec = await eventually(() => recordsOf('body-stall')[0]);
    expect(rec.attempts.map((a) => [a.model, a.errorClass])).toEqual([
      ['body-stall-up', 'provider_timeout'],
      ['fallback-up', undefined],
    ]);
    await honestAnswered();
  }, 20_000);

  it('a streaming provider that sends nothing at all fails over after ttft_ms (300), not headers_ms (5000)', async () => {
    const started = Date.now();
    const text = await streamText('silent');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(text.split(' ')).toHaveLength(20);
    const rec = await eventually(() => recordsOf('silent')[0]);
    expect(rec.attempts.map((a) => a.errorClass)).toEqual(['provider_timeout', undefined]);
    await honestAnswered();
  });

  it('a 2 MB SSE line before the first token is provider_malformed and the fallback answers', async () => {
    const text = await streamText('line-early');
    expect(text.split(' ')).toHaveLength(20);
    const rec = await eventually(() => recordsOf('line-early')[0]);
    expect(rec.attempts.map((a) => [a.errorClass, a.upstreamCode])).toEqual([
      ['provider_malformed', 'event_too_large'],
      [undefined, undefined],
    ]);
    expect(h.sim.attemptsFor('line-early-up')).toHaveLength(1);
    await honestAnswered();
  });

  it('a 2 MB SSE line after tokens were sent ends the stream with an explicit error', async () => {
    const err = await streamText('line-late').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const rec = await eventually(() => recordsOf('line-late')[0]);
    expect(rec.errorClass).toBe('provider_malformed');
    expect(rec.streamTruncated).toBe(true);
    await honestAnswered();
  });

  it('a non-streaming body past max_bytes is provider_malformed, the fallback answers, Keel holds at most the limit', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const answer = await ask('huge-body');
    const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
    expect(answer.choices[0]?.message.content?.split(' ')).toHaveLength(20);
    const rec = await eventually(() => recordsOf('huge-body')[0]);
    expect(rec.attempts.map((a) => [a.errorClass, a.upstreamCode])).toEqual([
      ['provider_malformed', 'response_too_large'],
      [undefined, undefined],
    ]);
    // A 128 MiB body read whole would be 128 MiB of chunks and as much again as text.
    expect(grown).toBeLessThan(64);
    await eventually(() => (h.sim.attemptsFor('huge-body-up')[0]?.outcome === 'client_aborted' ? true : undefined));
    await honestAnswered();
  });

  it('a non-streaming request streamed upstream and assembled: a 128 MiB line is refused at max_event_bytes, the fallback answers', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    const answer = await ask('huge-assembled');
    const grown = (process.memoryUsage().rss - before) / 1024 / 1024;
    expect(answer.choices[0]?.message.content?.split(' ')).toHaveLength(20);
    const rec = await eventually(() => recordsOf('huge-assembled')[0]);
    expect(rec.attempts.map((a) => [a.errorClass, a.upstreamCode])).toEqual([
      ['provider_malformed', 'event_too_large'],
      [undefined, undefined],
    ]);
    expect(grown).toBeLessThan(64);
    // Both upstream attempts were streams, although the caller asked for one JSON body.
    expect(h.sim.attempts().filter((a) => a.model === 'huge-body-up').map((a) => a.stream)).toContain(true);
    await honestAnswered();
  });

  it('an error body of 64 MiB is read to 64 KiB only; the request completes normally', async () => {
    const started = Date.now();
    const answer = await ask('huge-error');
    expect(answer.choices[0]?.message.content?.split(' ')).toHaveLength(20);
    expect(Date.now() - started).toBeLessThan(3000);
    const rec = await eventually(() => recordsOf('huge-error')[0]);
    // A 500 is retried on the same target as always (2 retries), then the fallback answers.
    expect(rec.attempts.map((a) => a.errorClass)).toEqual(['provider_error', 'provider_error', 'provider_error', undefined]);
    // Keel stopped reading each error body: none of them was sent in full.
    await eventually(() => (h.sim.attemptsFor('huge-error-up').every((a) => a.outcome === 'client_aborted') ? true : undefined));
    await honestAnswered();
  });

  it('embeddings bodies get the same bounds: a stall is a 504 after idle_ms, a runaway body a 502, an error body read to 64 KiB', async () => {
    const embed = (model: string) => oai.embeddings.create({ model, input: 'hello' }).then(
      (r) => r,
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
    let started = Date.now();
    const stalled = await embed('embed-stall');
    expect(stalled).toBeInstanceOf(OpenAI.APIError);
    expect((stalled as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
    const huge = await embed('embed-huge');
    expect((huge as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    started = Date.now();
    const error = await embed('embed-error');
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    const recs = await eventually(() => (recordsOf('embed-stall').length + recordsOf('embed-huge').length + recordsOf('embed-error').length === 3 ? true : undefined));
    expect(recs).toBe(true);
    expect([recordsOf('embed-stall')[0]?.upstreamCode, recordsOf('embed-huge')[0]?.upstreamCode]).toEqual(['body_idle_timeout', 'response_too_large']);
    await eventually(() => (['embed-huge-up', 'embed-error-up'].every((m) => h.sim.attemptsFor(m)[0]?.outcome === 'client_aborted') ? true : undefined));
    const ok = await oai.embeddings.create({ model: 'embed', input: 'hello' });
    expect(ok.data[0]?.embedding).toHaveLength(16);
  });
});
