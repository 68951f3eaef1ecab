import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baseConfig, eventually, startHarness, type Harness } from '../helpers/harness.js';

describe('content capture (opt-in)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ config: (url) => ({ ...baseConfig(url), telemetry: { capture_content: true } }) });
  });
  afterAll(() => h.close());

  it('records the prompt and the streamed answer exactly as the caller got it', async () => {
    const client = new OpenAI({ baseURL: `${h.url}/v1`, apiKey: 'k', maxRetries: 0 });
    let text = '';
    for await (const c of await client.chat.completions.create({ model: 'gpt-sim', stream: true, messages: [{ role: 'system', content: 'terse' }, { role: 'user', content: 'capture me' }] })) {
      text += c.choices[0]?.delta.content ?? '';
    }
    const rec = await eventually(() => h.records[0]);
    expect(rec.content?.system).toEqual([{ type: 'text', content: 'terse' }]);
    expect(rec.content?.input).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'capture me' }] }]);
    expect(rec.content?.output).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: text }], finish_reason: 'stop' }]);
  });
});
